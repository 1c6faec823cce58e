"""Publishing shard CRLs: openssl and pkilint accept them, IDP = CRLDP, numbers grow,
revoked certificates fail verification, budgets are enforced, leases are honoured."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import insert
from typer.testing import CliRunner

from certkeeper import crl_files, wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import Issued, IssueRequest
from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.engine import Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.status.crl import CrlPublishRefused
from certkeeper.store.crl_repo import CrlStore
from certkeeper.store.revocations import RevocationStore
from certkeeper.store.tables import precertificates, serials
from certkeeper.urls import crl_url
from certkeeper.wiring import issuance_service
from certkeeper.x509 import crl as crlenc
from factories import PASSPHRASE, csr_pem, make_home

SHARDS = 4


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    old = os.environ.get("CERTKEEPER_PASSPHRASE")
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    yield
    if old is None:
        del os.environ["CERTKEEPER_PASSPHRASE"]
    else:
        os.environ["CERTKEEPER_PASSPHRASE"] = old


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, env: None) -> Iterator[dict[str, object]]:
    """A CA home with three issued certificates, two of them revoked, published once."""
    path = make_home(tmp_path_factory.mktemp("crl") / "home", crl_shards=SHARDS)
    ca = CaHome.open(path)
    service = issuance_service(ca)

    def issue(name: str, profile: str, kind: str) -> Issued:
        return service.issue(IssueRequest(load_csr(csr_pem([name], kind)), profile))

    revoked_ec = issue("gone.example.com", "tls-dv-ecdsa", "ecdsa-p256")
    kept_ec = issue("kept.example.com", "tls-dv-ecdsa", "ecdsa-p256")
    revoked_rsa = issue("rsa.example.net", "tls-dv-rsa", "rsa-2048")
    now = datetime.now(UTC).replace(microsecond=0)
    revs = RevocationStore(ca.inventory.engine)
    revs.record(revoked_ec.serial, now, crlenc.SUPERSEDED, "test", None, now)
    revs.record(revoked_rsa.serial, now, crlenc.KEY_COMPROMISE, "test", None, now)
    out = path / "crl"
    report = wiring.build(ca).crl.publish(out, now, full=True)
    yield {
        "home": path,
        "ca": ca,
        "out": out,
        "now": now,
        "report": report,
        "revoked": [revoked_ec, revoked_rsa],
        "kept": kept_ec,
    }
    ca.close()


def _cert(issued: Issued) -> x509.Certificate:
    return x509.load_der_x509_certificate(issued.der)


def _shard_file(world: dict[str, object], issued: Issued) -> Path:
    ca = world["ca"]
    assert isinstance(ca, CaHome)
    rec = ca.inventory.certificate(serial=issued.serial)
    issuer = ca.inventory.issuer(rec.issuer_id)
    out = world["out"]
    assert isinstance(out, Path)
    return crl_files.shard_path(out, issuer.name, rec.crl_shard)


def test_every_crl_written_parses_with_openssl_and_passes_both_linters(
    world: dict[str, object],
) -> None:
    out = world["out"]
    ca = world["ca"]
    assert isinstance(out, Path) and isinstance(ca, CaHome)
    files = sorted(out.rglob("*.crl"))
    # 2 issuing CAs x (4 shards + full) + the root's CA CRL
    assert len(files) == 2 * (SHARDS + 1) + 1
    issuers = {i.name: i for i in ca.inventory.issuers()}
    linter = PkilintLinter()
    for path in files:
        der = path.read_bytes()
        text = subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-noout", "-text", "-in", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Version 2" in text
        name = path.parent.name if path.parent != out else path.stem
        is_root = path.parent == out
        pk = [f for f in linter.lint_crl(der, is_arl=is_root) if f.severity >= Severity.ERROR]
        assert pk == [], (path, pk)
        ctx = LintContext(issuer=x509.load_der_x509_certificate(issuers[name].cert_der))
        ours = [
            f for f in run_lints(CrlDocument.from_der(der), ctx) if f.severity >= Severity.ERROR
        ]
        assert ours == [], (path, ours)


def test_idp_is_the_certificates_crldp_byte_for_byte(world: dict[str, object]) -> None:
    for issued in [*world["revoked"], world["kept"]]:  # type: ignore[misc]
        cert = _cert(issued)
        crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        (uri,) = crldp.value[0].full_name or []
        shard = x509.load_der_x509_crl(_shard_file(world, issued).read_bytes())
        idp = shard.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        assert idp.critical and idp.value.full_name == [uri]
        encoded = b"\x86" + bytes([len(uri.value)]) + uri.value.encode()
        assert encoded in crldp.value.public_bytes() and encoded in idp.value.public_bytes()


def test_revoked_certificate_fails_openssl_verify_against_its_shard(
    world: dict[str, object], tmp_path: Path
) -> None:
    home = world["home"]
    assert isinstance(home, Path)
    for issued, revoked in [(i, True) for i in world["revoked"]] + [(world["kept"], False)]:  # type: ignore[attr-defined]
        assert isinstance(issued, Issued)
        leaf = tmp_path / f"{issued.serial}.pem"
        leaf.write_bytes(_cert(issued).public_bytes(Encoding.PEM))
        chain = tmp_path / "issuer.pem"
        chain.write_bytes(
            x509.load_der_x509_certificate(issued.chain[0]).public_bytes(Encoding.PEM)
        )
        crl_pem = tmp_path / "shard.pem"
        crl_pem.write_bytes(
            x509.load_der_x509_crl(_shard_file(world, issued).read_bytes()).public_bytes(
                Encoding.PEM
            )
        )
        result = subprocess.run(
            [
                "openssl", "verify", "-crl_check",
                "-CAfile", str(home / "certs" / "root.pem"),
                "-untrusted", str(chain),
                "-CRLfile", str(crl_pem),
                str(leaf),
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if revoked:
            assert result.returncode != 0
            assert "certificate revoked" in result.stdout + result.stderr
        else:
            assert result.returncode == 0, result.stdout + result.stderr


def test_entries_reasons_numbers_and_ccadb_lists(world: dict[str, object]) -> None:
    ca, out, now = world["ca"], world["out"], world["now"]
    assert isinstance(ca, CaHome) and isinstance(out, Path) and isinstance(now, datetime)
    ec, rsa = world["revoked"]  # type: ignore[misc]
    for issued, reason in (
        (ec, x509.ReasonFlags.superseded),
        (rsa, x509.ReasonFlags.key_compromise),
    ):
        shard = x509.load_der_x509_crl(_shard_file(world, issued).read_bytes())
        entry = shard.get_revoked_certificate_by_serial_number(int(issued.serial, 16))
        assert entry is not None and entry.revocation_date_utc == now
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == reason
        assert shard.next_update_utc == now + timedelta(days=7)
    for issuer in ("tls-ecdsa-1", "tls-rsa-1"):
        listed = json.loads((out / f"{issuer}.json").read_text())
        assert listed == [crl_url(ca.config.base_url, issuer, s) for s in range(SHARDS)]
        full = x509.load_der_x509_crl((out / issuer / "full.crl").read_bytes())
        with pytest.raises(x509.ExtensionNotFound):
            full.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        assert len(full) == 1
    root = x509.load_der_x509_crl((out / "root.crl").read_bytes())
    assert root.next_update_utc == now + timedelta(days=365)
    idp = root.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.only_contains_ca_certs
    report = world["report"]
    assert not report.refused and not report.skipped  # type: ignore[attr-defined]


def test_crl_numbers_strictly_increase_across_publishes(
    world: dict[str, object], tmp_path: Path
) -> None:
    ca, now = world["ca"], world["now"]
    assert isinstance(ca, CaHome) and isinstance(now, datetime)
    store = CrlStore(ca.inventory.engine)
    before = store.published_numbers()
    out = tmp_path / "again"
    # twice in the same second, then a clock that stepped back an hour: numbers grow
    for when in (now, now, now - timedelta(hours=1)):
        try:
            report = wiring.build(ca).crl.publish(out, when, full=True)
        except CrlPublishRefused as exc:
            # A CRL dated before its own entries' revocation times fails our lints and
            # is not published; the empty shards still go out, with larger numbers.
            assert when < now
            report = exc.report
            assert {f.split(":")[0] for r in report.refused for f in r.findings} == {
                "e_crl_revocation_date_after_this_update"
            }
            assert len(report.refused) == 4  # two shards with entries, two full CRLs
        after = store.published_numbers()
        published = {
            (ca.inventory.issuer_by_name(r.issuer).id, -1 if r.shard is None else r.shard)
            for r in report.published
        }
        assert published
        for key in published:
            assert after[key] > before.get(key, 0), key
        for r in report.published:
            got = x509.load_der_x509_crl(Path(r.path).read_bytes())
            assert got.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == (
                r.crl_number
            )
        before = after


def test_status_counts_bytes_and_projects_a_selection(world: dict[str, object]) -> None:
    ca, now = world["ca"], world["now"]
    assert isinstance(ca, CaHome) and isinstance(now, datetime)
    kept = world["kept"]
    assert isinstance(kept, Issued)
    rec = ca.inventory.certificate(serial=kept.serial)
    rows = wiring.build(ca).crl.status(now, CertificateFilter(serial=kept.serial))
    assert len(rows) == 2 * SHARDS
    assert sum(r.entries for r in rows) == 2
    for row in rows:
        target = row.issuer == "tls-ecdsa-1" and row.shard == rec.crl_shard
        assert row.projected_entries == row.entries + (1 if target else 0)
        # 49 octets per entry, plus the revokedCertificates header of a shard that was empty
        growth = 49 + (2 if row.entries == 0 else 0) if target else 0
        assert row.projected_bytes - row.bytes == growth
        assert 0 < row.used_pct < 1
    # bytes are what a publication now produces (ECDSA signatures vary by a few octets)
    published = {
        (r.issuer, r.shard): r.size_bytes
        for r in wiring.build(ca).crl.publish(ca.config.home / "s", now).published
    }
    for row in rows:
        assert 0 <= row.bytes - published[(row.issuer, row.shard)] <= 8


def _fill_shard(ca: CaHome, issuer_name: str, shard: int, count: int, now: datetime) -> None:
    """Synthetic revoked serials in one shard: enough to outgrow a small budget."""
    issuer = ca.inventory.issuer_by_name(issuer_name)
    serial_base = 1 << 126
    values = []
    n = 0
    while len(values) < count:
        n += 1
        value = serial_base + n
        if value % SHARDS == shard:
            values.append(format(value, "x"))
    with ca.inventory.engine.begin() as conn:
        conn.execute(
            insert(serials),
            [
                dict(serial=s, issuer_id=issuer.id, assigned_at=now, state="precertificate",
                     profile_id="tls-dv-ecdsa", profile_version=1, crl_shard=shard)
                for s in values
            ],
        )  # fmt: skip
        conn.execute(
            insert(precertificates),
            [
                dict(serial=s, issuer_id=issuer.id, der=b"synthetic", not_before=now,
                     sha256=hashlib.sha256(s.encode()).hexdigest(), created_at=now,
                     tbs_sha256=hashlib.sha256(s.encode()).hexdigest(),
                     not_after=now + timedelta(days=90))
                for s in values
            ],
        )  # fmt: skip
    revs = RevocationStore(ca.inventory.engine)
    with ca.inventory.engine.begin() as conn:
        for s in values:
            revs.record(s, now, crlenc.SUPERSEDED, None, None, now, conn=conn)


@pytest.fixture
def small_budget_ca(tmp_path: Path, env: None) -> Iterator[CaHome]:
    path = make_home(tmp_path / "home", crl_shards=SHARDS)
    opened = CaHome.open(path)
    ca = CaHome(dataclasses.replace(opened.config, crl_budget_bytes=10_000))
    opened.close()
    yield ca
    ca.close()


def test_over_budget_shard_is_refused_unless_overridden(
    small_budget_ca: CaHome, tmp_path: Path
) -> None:
    ca = small_budget_ca
    now = datetime.now(UTC).replace(microsecond=0)
    out = tmp_path / "crl"
    wiring.build(ca).crl.publish(out, now)
    old = (out / "tls-ecdsa-1" / "1.crl").read_bytes()
    _fill_shard(ca, "tls-ecdsa-1", 1, 250, now)
    later = now + timedelta(minutes=1)
    with pytest.raises(CrlPublishRefused) as info:
        wiring.build(ca).crl.publish(out, later)
    message = str(info.value)
    assert "tls-ecdsa-1 shard 1" in message and "10,000 bytes" in message
    refused = info.value.report.refused
    assert [(r.issuer, r.shard) for r in refused] == [("tls-ecdsa-1", 1)]
    assert refused[0].size_bytes > 10_000 and f"{refused[0].size_bytes:,} bytes" in message
    assert (out / "tls-ecdsa-1" / "1.crl").read_bytes() == old  # not replaced
    assert len(info.value.report.published) == 2 * SHARDS - 1 + 1  # the rest went out
    status = {(r.issuer, r.shard): r for r in wiring.build(ca).crl.status(later)}
    assert status[("tls-ecdsa-1", 1)].over_budget
    assert status[("tls-ecdsa-1", 1)].entries == 250

    report = wiring.build(ca).crl.publish(out, later + timedelta(seconds=1), override_budget=True)
    (shard1,) = [r for r in report.published if r.issuer == "tls-ecdsa-1" and r.shard == 1]
    assert shard1.entries == 250 and "override" in shard1.message
    assert len(x509.load_der_x509_crl((out / "tls-ecdsa-1" / "1.crl").read_bytes())) == 250


def test_a_shard_leased_elsewhere_is_skipped_and_workers_share_the_rest(
    small_budget_ca: CaHome, tmp_path: Path
) -> None:
    ca = small_budget_ca
    now = datetime.now(UTC).replace(microsecond=0)
    issuer = ca.inventory.issuer_by_name("tls-rsa-1")
    assert issuer.id is not None
    store = CrlStore(ca.inventory.engine)
    assert store.acquire(issuer.id, 2, "other-host:1", now + timedelta(minutes=5), now)
    report = wiring.build(ca).crl.publish(tmp_path / "crl", now, workers=2)
    (skipped,) = report.skipped
    assert (skipped.issuer, skipped.shard) == ("tls-rsa-1", 2)
    assert "other-host:1" in skipped.message
    assert len(report.published) == 2 * SHARDS - 1 + 1
    assert store.holder(issuer.id, 2, now) == "other-host:1"  # untouched
    # every lease the workers took was given back
    held = {(st.issuer_id, st.shard): st.lease_owner for st in store.states() if st.lease_owner}
    assert held == {(issuer.id, 2): "other-host:1"}


def test_cli_publish_and_status(world: dict[str, object], tmp_path: Path) -> None:
    home = world["home"]
    runner = CliRunner()
    out = tmp_path / "cli-crl"
    result = runner.invoke(
        app, ["crl", "publish", "--home", str(home), "--out", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {r["status"] for r in data["results"]} == {"published"}
    assert (out / "tls-ecdsa-1" / "0.crl").is_file()

    result = runner.invoke(
        app,
        ["crl", "status", "--home", str(home), "--format", "json", "--profile", "tls-dv-ecdsa"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2 * SHARDS
    assert sum(r["projected_entries"] - r["entries"] for r in rows) == 1  # only `kept` is left

    result = runner.invoke(app, ["crl", "status", "--home", str(home), "--issuer", "nope"])
    assert result.exit_code == 1
    assert "no issuer named 'nope'" in result.output
    assert "Traceback" not in result.output
