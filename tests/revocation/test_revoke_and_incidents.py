"""Revoking one certificate, and an incident from opening to a reconciled ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.x509 import ocsp
from sqlalchemy import select

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import InputError, NotFound
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.revocation.reasons import CrlReason
from certkeeper.store.incidents import IncidentStore
from certkeeper.store.revocations import RevocationRefused
from certkeeper.store.tables import ocsp_responses
from certkeeper.wiring import issuance_service
from factories import csr_pem


def issue(
    ca: CaHome, names: list[str], profile: str = "tls-dv-ecdsa", kind: str = "ecdsa-p256"
) -> list[str]:
    service = issuance_service(ca)
    return [
        service.issue(IssueRequest(load_csr(csr_pem([n], kind)), profile)).serial for n in names
    ]


def ocsp_status(ca: CaHome, serial: str) -> ocsp.OCSPCertStatus:
    with ca.inventory.engine.connect() as conn:
        der = conn.execute(
            select(ocsp_responses.c.der).where(ocsp_responses.c.serial == serial)
        ).scalar_one()
    return ocsp.load_der_ocsp_response(der).certificate_status


def test_revoke_resigns_ocsp_and_publishes_the_shard(fresh_ca: CaHome) -> None:
    (serial,) = issue(fresh_ca, ["r.example.com"])
    published: list[set[tuple[int, int]]] = []
    now = datetime.now(UTC)
    result = wiring.build(fresh_ca).revocation.revoke(
        serial,
        CrlReason.superseded,
        now=now,
        publish=lambda keys, at: published.append(keys) or len(keys),
    )
    assert result.action == "revoked" and result.published == 1
    assert published == [{(result.issuer_id, result.crl_shard)}]
    assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.REVOKED
    # only keyCompromise may replace a reason
    with pytest.raises(RevocationRefused):
        wiring.build(fresh_ca).revocation.revoke(serial, CrlReason.privilegeWithdrawn, now=now)
    again = wiring.build(fresh_ca).revocation.revoke(serial, CrlReason.keyCompromise, now=now)
    assert again.action == "updated" and again.reason is CrlReason.keyCompromise


def test_naming_the_certificate(fresh_ca: CaHome) -> None:
    (serial,) = issue(fresh_ca, ["n.example.com"])
    cert = fresh_ca.inventory.certificate(serial=serial)
    assert wiring.build(fresh_ca).revocation.resolve_serial(sha256=cert.sha256.upper()) == serial
    assert wiring.build(fresh_ca).revocation.resolve_serial(cert_der=cert.der) == serial
    assert wiring.build(fresh_ca).revocation.resolve_serial(serial="0x" + serial.upper()) == serial
    with pytest.raises(NotFound, match="never assigned"):
        wiring.build(fresh_ca).revocation.resolve_serial(serial="1234")
    with pytest.raises(NotFound, match="no certificate with SHA-256"):
        wiring.build(fresh_ca).revocation.resolve_serial(sha256="ab" * 32)
    with pytest.raises(InputError, match="exactly one"):
        wiring.build(fresh_ca).revocation.resolve_serial(serial=serial, sha256=cert.sha256)


def test_incident_lifecycle_reconciles_at_every_step(fresh_ca: CaHome) -> None:
    ec = issue(fresh_ca, [f"e{i}.example.com" for i in range(4)])
    rsa = issue(fresh_ca, [f"r{i}.example.org" for i in range(3)], "tls-dv-rsa", "rsa-2048")
    now = datetime.now(UTC)
    opened = wiring.build(fresh_ca).incidents.open_incident(
        title="keyEncipherment in RSA leaves",
        aware_at=now - timedelta(hours=2),
        br_item_number=12,
        selector=CertificateFilter(profile_id="tls-dv-rsa"),
        now=now,
        explanation_url="https://ca.example.com/incidents/1",
    )
    assert opened.deadline == (now - timedelta(hours=2)).replace(microsecond=0) + timedelta(days=5)
    assert opened.reason == CrlReason.superseded
    scope = wiring.build(fresh_ca).incidents.scope(opened.id, now)
    assert scope.to_dict()["distinct_certificates"] == 3
    assert {i.serial for i in scope.certificates} == set(rsa)

    report = wiring.build(fresh_ca).incidents.make_plan(opened.id, now)
    assert report.plan.all_at_once and report.plan.deadline_met

    status = wiring.build(fresh_ca).incidents.status(opened.id, now)
    assert (status.counts.affected, status.counts.revoked, status.counts.remaining) == (3, 0, 3)
    assert status.counts.reconciles()

    first = wiring.build(fresh_ca).incidents.execute(opened.id, now, workers=2)
    assert first.revoked == 3
    second = wiring.build(fresh_ca).incidents.execute(opened.id, now, workers=2)
    assert second.revoked == 0  # running it twice revokes nothing twice
    status = wiring.build(fresh_ca).incidents.status(opened.id, now + timedelta(seconds=1))
    assert (status.counts.revoked, status.counts.remaining) == (3, 0)
    assert status.counts.reconciles()
    for serial in rsa:
        assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.REVOKED
    for serial in ec:
        assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.GOOD
    events = [e.event for e in IncidentStore(fresh_ca.inventory.engine).events(opened.id)]
    assert events[:2] == ["opened", "planned"] and "execution finished" in events
    window = IncidentStore(fresh_ca.inventory.engine).renewal_window(rsa[0])
    assert (
        window is not None and window[1] < now and window[2] == "https://ca.example.com/incidents/1"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aware_at": datetime.now(UTC) + timedelta(days=1)}, "is in the future"),
        ({"aware_at": datetime(2026, 1, 1)}, "needs a time zone"),
        ({"br_item_number": 99}, "no item 99"),
        ({"selector": CertificateFilter(profile_id="nope")}, "matches no certificate"),
        ({"selector": CertificateFilter()}, "selector is empty"),
        ({"title": "  "}, "needs a title"),
    ],
)
def test_bad_incident_input_is_refused_and_nothing_is_recorded(
    fresh_ca: CaHome, kwargs: dict[str, object], message: str
) -> None:
    issue(fresh_ca, ["b.example.com"])
    args: dict[str, object] = {
        "title": "t",
        "aware_at": datetime.now(UTC),
        "br_item_number": 12,
        "selector": CertificateFilter(profile_id="tls-dv-ecdsa"),
        "now": datetime.now(UTC),
    }
    args.update(kwargs)
    with pytest.raises((InputError, NotFound), match=message):
        wiring.build(fresh_ca).incidents.open_incident(**args)  # type: ignore[arg-type]
    assert IncidentStore(fresh_ca.inventory.engine).all() == []
