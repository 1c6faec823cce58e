"""A real CA home with an incident opened, planned and interrupted half-way through."""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.incidents import IncidentStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home


@dataclass
class Campaign:
    ca: CaHome
    incident_id: int
    serials: list[str]
    orphan: str  # a precertificate whose final certificate was never signed
    now: datetime


@pytest.fixture(scope="session")
def campaign_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """Built once per test process; each test gets a copy of its home (`campaign`)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from build_campaign(tmp_path_factory.mktemp("campaign"), monkeypatch)


@pytest.fixture
def campaign(
    campaign_template: Campaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Campaign]:
    """A private copy of the campaign's CA home (SQLite inventory, keys, config)."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CERTKEEPER_ACTOR", "report-test")
    home = tmp_path / "home"
    shutil.copytree(campaign_template.ca.config.home, home)
    ca = CaHome.open(home)
    t = campaign_template
    yield Campaign(ca, t.incident_id, t.serials, t.orphan, t.now)
    ca.close()


def build_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None = None
) -> Generator[Campaign, None, None]:
    """Six certificates and one orphan precertificate under an incident made aware of
    nine days ago (so the week-by-week table has two weeks and the deadline has
    passed), planned all at once, and a revocation run that lost power after revoking
    the first chunk of two."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CERTKEEPER_ACTOR", "report-test")
    home = make_home(tmp_path / "home", crl_shards=2, database_url=database_url)
    config = home / "certkeeper.toml"
    # The smallest budget the configuration accepts, so the shard chart's bars show.
    config.write_text(config.read_text().replace("budget_bytes = 10000000", "budget_bytes = 10000"))
    ca = CaHome.open(home)
    service = issuance_service(ca)

    def crash(step: str) -> None:
        if step == "sign_certificate":
            raise RuntimeError("crashed after the precertificate")

    with pytest.raises(RuntimeError):
        issuance_service(ca, on_step=crash).issue(
            IssueRequest(load_csr(csr_pem(["orphan.example.com"])), "tls-dv-ecdsa")
        )
    serials = [
        service.issue(IssueRequest(load_csr(csr_pem([f"r{i}.example.com"])), "tls-dv-ecdsa")).serial
        for i in range(6)
    ]
    now = datetime.now(UTC).replace(microsecond=0)
    opened = wiring.build(ca).incidents.open_incident(
        title="keyEncipherment in ECDSA leaves",
        aware_at=now - timedelta(days=9),
        br_item_number=12,
        selector=CertificateFilter(profile_id="tls-dv-ecdsa", issuer="tls-ecdsa-1"),
        now=now,
        explanation_url="https://ca.example.com/incidents/1",
    )
    assert opened.id is not None
    wiring.build(ca).incidents.make_plan(opened.id, now)
    calls = {"n": 0}
    original = IncidentStore.revoke_items

    def power_cut(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(IncidentStore, "revoke_items", staticmethod(power_cut))
    with pytest.raises(RuntimeError, match="power cut"):
        wiring.build(ca).incidents.execute(opened.id, now, workers=1, chunk=2)
    monkeypatch.setattr(IncidentStore, "revoke_items", staticmethod(original))
    scope = wiring.build(ca).incidents.scope(opened.id, now)
    (orphan,) = [i.serial for i in scope.precertificates_only]
    ca.inventory.engine.dispose()  # nothing open while the tests copy the files
    yield Campaign(ca, opened.id, serials, orphan, now + timedelta(seconds=1))
    ca.close()
