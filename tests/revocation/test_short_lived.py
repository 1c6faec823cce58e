"""Short-lived certificates (BR 1.6.1) through revocation: the planner leaves those that
expire by the deadline to expire (BR 4.9.1.1 exempts them), plans those that outlive it,
and a short-lived certificate issued without a CRL distribution point or OCSP URL (BR
7.1.2.11.2, 7.1.2.7.7) still has an OCSP response and a CRL entry, from its
precertificate on. Every time comes from the test's clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from sqlalchemy import select

from certkeeper import br, wiring
from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.ca.profile_registry import builtin_profile_sources
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest, Step
from certkeeper.revocation.planner import ShardLoad, Target, plan
from certkeeper.revocation.reasons import CrlReason
from certkeeper.store.tables import precertificates
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem

from .test_revoke_and_incidents import ocsp_status

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BARE = "tls-dv-ecdsa-bare"  # short-lived, neither CRL distribution point nor OCSP URL


def clock_at(when: datetime) -> Callable[[], datetime]:
    return lambda: when


# BR 7.1.2.11.2 makes the CRL distribution point OPTIONAL in a short-lived certificate;
# Microsoft's root program wants revocation information in every end-entity certificate,
# so a CA outside that program waives pkilint's rule to issue such a certificate.
MSFT_WAIVER = """
[[waivers]]
lint_id = "msft.end_entity.revocation_information_absent"
justification = "not in Microsoft's root program; BR 7.1.2.11.2 makes CRLDP optional"
expires = 2027-01-31
"""


@pytest.fixture
def fresh_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CERTKEEPER_ACTOR", "test-operator")
    path = tmp_path / "home"  # the hierarchy made the day before T0, by the test's clock
    create_home(path, InitOptions(crl_shards=4, public=False), PASSPHRASE.encode(), T0 - DAY)
    config = path / "certkeeper.toml"
    config.write_text(config.read_text() + MSFT_WAIVER)
    home = CaHome.open(path)
    yield home
    home.close()


def add_bare_profile(ca: CaHome) -> None:
    text = builtin_profile_sources()["tls-dv-ecdsa-short.toml"]
    text = text.replace('id = "tls-dv-ecdsa-short"', f'id = "{BARE}"')
    text = text.replace("serial.\ninclude = true", "serial.\ninclude = false")
    (ca.profiles.profile_dir / f"{BARE}.toml").write_text(text)
    ca.profiles.sync(T0, "test-operator")
    assert not ca.profiles.for_issuance(BARE).crl_distribution_point


def issue(ca: CaHome, name: str, profile: str, at: datetime, on_step: Step | None = None) -> str:
    service = issuance_service(ca, clock=clock_at(at), on_step=on_step)
    return service.issue(IssueRequest(load_csr(csr_pem([name])), profile)).serial


# -- the planner and its verdict ----------------------------------------------------------

DEADLINE = T0 + timedelta(hours=24)  # BR 4.9.1.1 items 1-5
ENTRY, OVERHEAD = 49, 600


def targets() -> list[Target]:
    soon = T0 + timedelta(hours=20)  # short-lived, expires before the deadline
    after = T0 + timedelta(days=5)  # short-lived, still valid at the deadline
    return [
        *(Target(f"s{i}", (1, 0), soon, ENTRY, short_lived=True) for i in range(4)),
        *(Target(f"a{i}", (1, 0), after, ENTRY, short_lived=True) for i in range(2)),
        Target("edge", (1, 0), DEADLINE, ENTRY, short_lived=True),  # notAfter == deadline
        Target("long", (1, 0), soon, ENTRY),  # not short-lived, expires before the deadline
    ]


def test_short_lived_by_the_deadline_are_left_to_expire_and_said_so() -> None:
    result = plan(targets(), [ShardLoad((1, 0), 10**6, OVERHEAD, ())], T0, DEADLINE, timedelta(0))
    planned = {p.serial: p.planned_at for p in result.items}
    assert [s for s, at in planned.items() if at is None] == ["s0", "s1", "s2", "s3", "edge"]
    assert planned["a0"] == planned["a1"] == planned["long"] == T0
    verdict = result.verdict()
    c = verdict.certificates
    assert (c.in_time, c.left_to_expire, c.short_lived_left_to_expire) == (3, 5, 5)
    assert verdict.met
    assert verdict.summary(3) == (
        f"The plan meets the deadline {DEADLINE:%Y-%m-%d %H:%M}Z: 3 of 8 certificates revoked "
        "by it; 5 certificates left to expire (notAfter at or before the deadline; 5 of them "
        "short-lived, which BR 4.9.1.1 does not require revoking)."
    )
    assert c.to_dict()["short_lived_left_to_expire"] == 5


def test_a_short_lived_certificate_past_the_deadline_is_never_left_to_expire() -> None:
    # room for one entry: of the two outliving the deadline, one cannot be revoked by it
    load = ShardLoad((1, 0), OVERHEAD + ENTRY, OVERHEAD, ())
    verdict = plan(targets(), [load], T0, DEADLINE, timedelta(days=1)).verdict()
    c = verdict.certificates
    assert (c.in_time, c.unrevoked, c.short_lived_left_to_expire) == (1, 1, 5)
    assert not verdict.met
    assert verdict.summary(3).startswith(f"DEADLINE MISSED ({DEADLINE:%Y-%m-%d %H:%M}Z): 1 of 8")


# -- a short-lived certificate without CRLDP or OCSP URL ---------------------------------


def extension_absent(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return True
    return False


def test_bare_short_lived_certificates_keep_ocsp_and_crl_status(
    fresh_ca: CaHome, tmp_path: Path
) -> None:
    add_bare_profile(fresh_ca)
    serial = issue(fresh_ca, "bare.example.com", BARE, T0)
    cert = x509.load_der_x509_certificate(fresh_ca.inventory.certificate(serial=serial).der)
    assert br.is_short_lived(cert.not_valid_before_utc, cert.not_valid_after_utc)
    assert extension_absent(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS)  # the lints allowed it
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_method for d in aia] == [AuthorityInformationAccessOID.CA_ISSUERS]
    assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.GOOD

    now = T0 + timedelta(hours=1)
    out = tmp_path / "crl"
    done = wiring.build(fresh_ca).revocation.revoke(
        serial,
        CrlReason.keyCompromise,
        now=now,
        publish=wiring.build(fresh_ca).republisher.publisher(out),
    )
    assert done.action == "revoked" and done.published >= 1
    assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.REVOKED
    listed = {
        format(entry.serial_number, "x")
        for path in out.rglob("*.crl")
        for entry in x509.load_der_x509_crl(path.read_bytes())
    }
    assert serial in listed


def test_a_bare_short_lived_precertificate_has_status_too(fresh_ca: CaHome) -> None:
    add_bare_profile(fresh_ca)

    def stop(step: str) -> None:
        if step == "lint_certificate":
            raise RuntimeError("stopped after the precertificate")

    with pytest.raises(RuntimeError):
        issue(fresh_ca, "pre.example.com", BARE, T0, on_step=stop)
    with fresh_ca.inventory.engine.connect() as conn:
        (serial,) = conn.execute(select(precertificates.c.serial)).scalars()
    assert fresh_ca.inventory.serial_state(serial) == "precertificate"
    assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.GOOD
    wiring.build(fresh_ca).revocation.revoke(
        serial, CrlReason.superseded, now=T0 + timedelta(minutes=5)
    )
    assert ocsp_status(fresh_ca, serial) is ocsp.OCSPCertStatus.REVOKED


def test_an_incident_leaves_expiring_short_lived_certificates_alone(fresh_ca: CaHome) -> None:
    add_bare_profile(fresh_ca)
    early = [issue(fresh_ca, f"e{i}.example.com", BARE, T0) for i in range(2)]
    later = issue(fresh_ca, "l.example.com", BARE, T0 + timedelta(days=6))
    now = T0 + timedelta(days=6, hours=1)
    opened = wiring.build(fresh_ca).incidents.open_incident(
        title="bad validation",
        aware_at=now,
        br_item_number=5,  # 24 hours
        selector=CertificateFilter(profile_id=BARE),
        now=now,
    )
    assert opened.id is not None
    # the early ones expire at T0 + 7 days, before the deadline; the later one after it
    assert fresh_ca.inventory.certificate(serial=early[0]).not_after < opened.deadline
    assert opened.deadline == now + timedelta(hours=24)
    report = wiring.build(fresh_ca).incidents.make_plan(opened.id, now)
    planned = {p.serial: p.planned_at for p in report.plan.items}
    assert planned == {**dict.fromkeys(early), later: now}
    assert report.verdict.met
    assert (
        "2 of them short-lived"
        in wiring.build(fresh_ca).incidents.status(opened.id, now).plan_sentence()
    )
    ran = wiring.build(fresh_ca).incidents.execute(opened.id, now, workers=1)
    assert ran.revoked == 1
    assert ocsp_status(fresh_ca, later) is ocsp.OCSPCertStatus.REVOKED
    assert all(ocsp_status(fresh_ca, s) is ocsp.OCSPCertStatus.GOOD for s in early)
