"""A campaign survives a crash mid-way, resumes without revoking anything twice, and
counts certificates that expire before their turn as expired, never as revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

from certkeeper import crl_files, wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.crl_repo import CrlStore
from certkeeper.store.incidents import IncidentStore
from certkeeper.store.revocations import RevocationStore
from certkeeper.wiring import issuance_service
from factories import csr_pem


def open_planned(ca: CaHome, count: int) -> tuple[int, list[str], datetime]:
    service = issuance_service(ca)
    serials = [
        service.issue(IssueRequest(load_csr(csr_pem([f"c{i}.example.com"])), "tls-dv-ecdsa")).serial
        for i in range(count)
    ]
    now = datetime.now(UTC)
    incident = wiring.build(ca).incidents.open_incident(
        title="campaign",
        aware_at=now,
        br_item_number=12,
        selector=CertificateFilter(profile_id="tls-dv-ecdsa"),
        now=now,
    )
    assert incident.id is not None
    wiring.build(ca).incidents.make_plan(incident.id, now)
    return incident.id, serials, now


def test_a_crash_mid_campaign_leaves_a_reconciled_ledger_and_resumes(
    fresh_ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id, serials, now = open_planned(fresh_ca, 6)
    calls = {"n": 0}
    original = IncidentStore.revoke_items

    def crash_on_third_chunk(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(IncidentStore, "revoke_items", staticmethod(crash_on_third_chunk))
    with pytest.raises(RuntimeError, match="power cut"):
        wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=1, chunk=2)
    status = wiring.build(fresh_ca).incidents.status(incident_id, now)
    assert status.counts.reconciles()
    assert (status.counts.revoked, status.counts.remaining) == (4, 2)  # two chunks committed
    revoked = RevocationStore(fresh_ca.inventory.engine)
    assert revoked.count(incident_id=incident_id) == 4  # the third chunk rolled back whole

    monkeypatch.setattr(IncidentStore, "revoke_items", staticmethod(original))
    resumed = wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=2, chunk=2)
    assert resumed.revoked == 2 and resumed.already_revoked == 0
    again = wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=1)
    assert again.revoked == 0
    final = wiring.build(fresh_ca).incidents.status(incident_id, now + timedelta(seconds=1))
    assert final.counts.reconciles() and final.counts.revoked == 6
    assert revoked.count(incident_id=incident_id) == 6
    assert revoked.revoked_serials(serials) == set(serials)


def test_a_campaign_killed_after_its_commit_is_published_by_the_rerun(fresh_ca: CaHome) -> None:
    """The shards a dead run committed stay pending, and the rerun, with nothing left
    to revoke, still publishes them (before: "0 shard(s) republished", off every CRL)."""
    incident_id, serials, now = open_planned(fresh_ca, 6)
    pending = CrlStore(fresh_ca.inventory.engine).pending_shards

    def killed(keys: set[tuple[int, int]], at: datetime) -> int:
        raise KeyboardInterrupt  # the process dies between the commit and the CRLs

    with pytest.raises(KeyboardInterrupt):
        wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=1, publish=killed)
    assert sum(pending().values()) == 6
    rerun = wiring.build(fresh_ca).incidents.execute(
        incident_id, now, workers=1, publish=wiring.build(fresh_ca).republisher.publisher()
    )
    shards = {(c.issuer_id, c.crl_shard) for c in map(_record(fresh_ca), serials)}
    assert rerun.revoked == 0 and rerun.published == len(shards)
    assert pending() == {}
    for serial in serials:
        rec = _record(fresh_ca)(serial)
        name = fresh_ca.inventory.issuer(rec.issuer_id).name
        path = crl_files.shard_path(fresh_ca.config.crl_dir, name, rec.crl_shard)
        crl = x509.load_der_x509_crl(path.read_bytes())
        assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


def test_a_campaign_that_cannot_write_its_crls_says_so_in_one_line(
    fresh_ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while the CRLs are written: exit 3, one line saying the revocations are
    recorded, the shards stay pending; the rerun publishes them."""
    import os

    from typer.testing import CliRunner

    from certkeeper.cli.main import app
    from fault_injection import full_disk_under

    incident_id, serials, _ = open_planned(fresh_ca, 3)
    pending = CrlStore(fresh_ca.inventory.engine).pending_shards
    argv = ["incident", "execute", str(incident_id), "--workers", "1"]
    argv += ["--home", str(fresh_ca.config.home)]

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", full_disk_under(fresh_ca.config.crl_dir))
        result = CliRunner().invoke(app, argv)
    assert result.exit_code == 3 and "Traceback" not in result.output
    (line,) = [ln for ln in result.stderr.splitlines() if "No space left on device" in ln]
    assert "recorded and their OCSP responses re-signed" in line
    assert sum(pending().values()) == 3
    result = CliRunner().invoke(app, argv)  # nothing left to revoke, only to publish
    assert result.exit_code == 0, result.output
    assert pending() == {}
    for serial in serials:
        rec = _record(fresh_ca)(serial)
        name = fresh_ca.inventory.issuer(rec.issuer_id).name
        crl = crl_files.shard_path(fresh_ca.config.crl_dir, name, rec.crl_shard).read_bytes()
        assert int(serial, 16) in {e.serial_number for e in x509.load_der_x509_crl(crl)}


def _record(ca: CaHome) -> Any:
    return lambda serial: ca.inventory.certificate(serial=serial)


def test_certificates_expiring_during_the_campaign_are_counted_as_expired(fresh_ca: CaHome) -> None:
    incident_id, _, now = open_planned(fresh_ca, 3)
    later = now + timedelta(days=200)  # after every notAfter (90-day profile)
    result = wiring.build(fresh_ca).incidents.execute(incident_id, later, workers=1, until=later)
    assert (result.revoked, result.expired) == (0, 3)
    status = wiring.build(fresh_ca).incidents.status(incident_id, later)
    assert status.counts.reconciles()
    assert (status.counts.revoked, status.counts.expired, status.counts.remaining) == (0, 3, 0)


def test_revocations_made_outside_the_campaign_count_as_revoked(fresh_ca: CaHome) -> None:
    from certkeeper.revocation.reasons import CrlReason

    incident_id, serials, now = open_planned(fresh_ca, 3)
    wiring.build(fresh_ca).revocation.revoke(serials[0], CrlReason.keyCompromise, now=now)
    result = wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=1)
    assert (result.revoked, result.already_revoked) == (2, 1)
    status = wiring.build(fresh_ca).incidents.status(incident_id, now + timedelta(seconds=1))
    assert status.counts.revoked == 3 and status.counts.reconciles()


def test_precertificates_without_a_final_certificate_are_listed_apart_and_revoked(
    fresh_ca: CaHome,
) -> None:
    def crash(step: str) -> None:
        if step == "sign_certificate":
            raise RuntimeError("crashed after the precertificate")

    with pytest.raises(RuntimeError):
        issuance_service(fresh_ca, on_step=crash).issue(
            IssueRequest(load_csr(csr_pem(["orphan.example.com"])), "tls-dv-ecdsa")
        )
    incident_id, serials, now = open_planned(fresh_ca, 2)
    scope = wiring.build(fresh_ca).incidents.scope(incident_id, now)
    assert len(scope.certificates) == 2 and len(scope.precertificates_only) == 1
    orphan = scope.precertificates_only[0].serial
    assert orphan not in serials
    wiring.build(fresh_ca).incidents.execute(incident_id, now, workers=1)
    assert orphan in RevocationStore(fresh_ca.inventory.engine).revoked_serials([orphan])
    status = wiring.build(fresh_ca).incidents.status(incident_id, now + timedelta(seconds=1))
    assert status.counts.affected == 2  # certificates only
    assert status.precertificates.affected == 1 and status.precertificates.revoked == 1
