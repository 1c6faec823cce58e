"""The whole campaign on a real PostgreSQL inventory (the other tests use SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, make_home


@pytest.mark.postgres
def test_campaign_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_pg_database: Callable[[], str]
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    ca = CaHome.open(make_home(tmp_path / "home", database_url=new_pg_database(), crl_shards=4))
    from factories import csr_pem

    service = issuance_service(ca)
    serials = [
        service.issue(
            IssueRequest(load_csr(csr_pem([f"pg{i}.example.com"])), "tls-dv-ecdsa")
        ).serial
        for i in range(4)
    ]
    now = datetime.now(UTC)
    incident = wiring.build(ca).incidents.open_incident(
        title="pg",
        aware_at=now,
        br_item_number=3,
        selector=CertificateFilter(serials=tuple(serials[:3])),
        now=now,
    )
    assert incident.id is not None
    assert incident.deadline == incident.aware_at + timedelta(hours=24)
    report = wiring.build(ca).incidents.make_plan(incident.id, now)
    assert report.plan.all_at_once
    result = wiring.build(ca).incidents.execute(incident.id, now, workers=2, chunk=2)
    assert result.revoked == 3
    assert wiring.build(ca).incidents.execute(incident.id, now, workers=1).revoked == 0
    published = wiring.build(ca).republisher.republish(result.shards, now)
    assert published.published and not published.refused
    status = wiring.build(ca).incidents.status(incident.id, now + timedelta(seconds=1))
    assert status.counts.reconciles() and status.counts.revoked == 3
    ca.close()
