"""Signing, storing, refreshing and re-signing pre-signed OCSP responses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.x509 import ocsp
from ocsp_testing import issue_with_status, shared_ocsp_home
from sqlalchemy import delete, insert, update

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.lint.engine import Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.status import ocsp as status
from certkeeper.store.database import write_transaction
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.store.tables import ocsp_responses, revocations
from certkeeper.x509.ocsp import Revocation
from factories import PASSPHRASE


@pytest.fixture
def ca(monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    home = CaHome.open(shared_ocsp_home())
    yield home
    home.close()


def revoke(ca: CaHome, serial: str, reason: int | None, at: datetime) -> None:
    """A revocation row as the revocation service writes it, plus the immediate re-sign."""
    cert = ca.inventory.certificate(serial=serial)
    with write_transaction(ca.inventory.engine) as conn:
        conn.execute(
            insert(revocations).values(
                serial=serial,
                issuer_id=cert.issuer_id,
                crl_shard=cert.crl_shard,
                revoked_at=at,
                reason=reason,
                not_after=cert.not_after,
                recorded_at=at,
            )
        )
        wiring.build(ca).ocsp.resign_on_revocation(serial, conn)


def no_errors(findings: list) -> list:  # type: ignore[type-arg]
    return [f for f in findings if f.severity >= Severity.ERROR]


@pytest.mark.parametrize(
    ("profile", "kind"), [("tls-dv-ecdsa", "ecdsa-p256"), ("tls-dv-rsa", "rsa-2048")]
)
def test_good_then_revoked_responses_pass_both_linters(ca: CaHome, profile: str, kind: str) -> None:
    got = issue_with_status(ca, [f"{kind}.status.example.com"], profile, kind)
    serial = got.issued.serial
    store = OcspStore(ca.inventory.engine)
    good = store.get(serial)
    assert good is not None and good.status == "good"
    resp = ocsp.load_der_ocsp_response(good.der)
    assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == int(serial, 16)
    assert resp.next_update_utc - resp.this_update_utc == status.VALIDITY
    issuer_cert = ca.issuer_certificate(ca.inventory.issuer_by_name(got.issuer_name))
    pk = PkilintLinter()
    assert no_errors(status.lint_response(good.der, issuer_cert)) == []
    assert no_errors(pk.lint_ocsp_response(good.der)) == []

    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # one instant
    for reason in (None, 1):
        if reason is None:
            revoke(ca, serial, None, at)
        else:  # a later keyCompromise replaces the reason (BR 7.2.2)
            with write_transaction(ca.inventory.engine) as conn:
                conn.execute(
                    update(revocations).where(revocations.c.serial == serial).values(reason=1)
                )
                wiring.build(ca).ocsp.resign_on_revocation(
                    serial, conn, now=datetime.now(UTC) + timedelta(seconds=1)
                )
        rec = store.get(serial)
        assert rec is not None and rec.status == "revoked"
        resp = ocsp.load_der_ocsp_response(rec.der)
        assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_time_utc == at
        assert (resp.revocation_reason is None) == (reason is None)
        assert no_errors(status.lint_response(rec.der, issuer_cert)) == []
        assert no_errors(pk.lint_ocsp_response(rec.der)) == []


def test_good_never_overwrites_revoked_and_older_never_overwrites_newer(ca: CaHome) -> None:
    got = issue_with_status(ca, ["race.status.example.com"])
    serial = got.issued.serial
    store = OcspStore(ca.inventory.engine)
    original = store.get(serial)
    assert original is not None
    issuer = ca.inventory.issuer(original.issuer_id)
    now = datetime.now(UTC)
    stale_good = wiring.build(ca).ocsp.sign_status(
        issuer, serial, not_after=original.not_after, now=now + timedelta(seconds=5)
    )
    older = dataclasses.replace(
        original, der=b"older", produced_at=original.produced_at - timedelta(hours=1)
    )
    store.put(older)
    assert store.get(serial) == original  # older producedAt: dropped
    revoke(ca, serial, 4, now.replace(microsecond=0))
    revoked = store.get(serial)
    assert revoked is not None and revoked.status == "revoked"
    store.put(stale_good)  # a refresh that read "good" before the revocation committed
    assert store.get(serial) == revoked


def test_sign_status_refuses_schedules_outside_br(ca: CaHome) -> None:
    with pytest.raises(status.OcspSigningError):
        status.check_schedule(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 7, tzinfo=UTC))
    with pytest.raises(status.OcspSigningError):
        status.check_schedule(
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, 0, 0, 1, tzinfo=UTC)
        )
    status.check_schedule(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC) - timedelta(seconds=1)
    )


def test_refresh_deadlines_follow_br_4_9_10() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    # 4-day validity: min(thisUpdate + 4 days, nextUpdate - 8 hours)
    assert status.refresh_deadline(t, t + timedelta(days=4)) == t + timedelta(days=4) - timedelta(
        hours=8
    )
    # 10-day validity: the 4-day rule binds
    assert status.refresh_deadline(t, t + timedelta(days=10)) == t + timedelta(days=4)
    # 12 hours: before half the interval (inclusive interval = 12h + 1s)
    deadline = status.refresh_deadline(t, t + timedelta(hours=12))
    assert t + timedelta(hours=5) < deadline < t + timedelta(hours=6, seconds=1)
    # our defaults leave a margin before the deadline
    assert timedelta(days=4) - timedelta(hours=8) > status.VALIDITY - status.REFRESH_MARGIN


def test_refresh_resigns_due_heals_missed_revocations_and_skips_expired(ca: CaHome) -> None:
    store = OcspStore(ca.inventory.engine)
    due_one = issue_with_status(ca, ["due.status.example.com"]).issued.serial
    fresh = issue_with_status(ca, ["fresh.status.example.com"]).issued.serial
    missed = issue_with_status(ca, ["missed.status.example.com"]).issued.serial
    expired = issue_with_status(ca, ["expired.status.example.com"]).issued.serial
    now = datetime.now(UTC).replace(microsecond=0)
    with write_transaction(ca.inventory.engine) as conn:
        # due: signed 3 days ago
        conn.execute(
            update(ocsp_responses)
            .where(ocsp_responses.c.serial.in_([due_one, expired]))
            .values(this_update=now - timedelta(days=3), next_update=now + timedelta(days=1))
        )
        # expired: the certificate's notAfter has passed
        conn.execute(
            update(ocsp_responses)
            .where(ocsp_responses.c.serial == expired)
            .values(not_after=now - timedelta(hours=1))
        )
        # missed: revoked, but the re-sign never happened
        cert = ca.inventory.certificate(serial=missed)
        conn.execute(
            insert(revocations).values(
                serial=missed,
                issuer_id=cert.issuer_id,
                crl_shard=cert.crl_shard,
                revoked_at=now,
                reason=None,
                not_after=cert.not_after,
                recorded_at=now,
            )
        )
    before = {s: store.get(s) for s in (due_one, fresh, missed, expired)}
    seen: list[int] = []
    report = wiring.build(ca).ocsp.refresh(
        now + timedelta(seconds=2), batch_size=1, on_progress=seen.append
    )
    assert report.failed == []
    after = {s: store.get(s) for s in before}
    assert after[fresh] == before[fresh]
    assert after[expired] == before[expired]
    assert after[due_one] != before[due_one] and after[due_one].status == "good"  # type: ignore[union-attr]
    assert after[missed].status == "revoked"  # type: ignore[union-attr]
    assert report.signed >= 2 and report.signed_revoked >= 1 and sum(seen) == report.due
    assert wiring.build(ca).ocsp.refresh(now + timedelta(seconds=3)).signed == 0  # nothing left due
    counts = store.counts(now)
    assert counts["missing"] == 0 and counts["revoked"] >= 1


def test_lookup_distinguishes_unassigned_and_foreign_issuer(ca: CaHome) -> None:
    got = issue_with_status(ca, ["lookup.status.example.com"])
    store = OcspStore(ca.inventory.engine)
    rec = store.get(got.issued.serial)
    assert rec is not None
    row = store.lookup(rec.issuer_id, got.issued.serial)
    assert row.serial_state == "issued" and row.response == rec
    assert store.lookup(rec.issuer_id + 1, got.issued.serial).serial_state is None
    assert store.lookup(rec.issuer_id, "1234").serial_state is None
    hashes = store.issuer_hashes()
    assert rec.issuer_id in hashes.values() and len(hashes) == 2


def test_revocation_reason_checked() -> None:
    with pytest.raises(ValueError):
        Revocation(datetime(2026, 1, 1, tzinfo=UTC), 7)


def test_sqlite_fast_lookup_answers_exactly_as_the_sqlalchemy_query(ca: CaHome) -> None:
    """The responder's read-only sqlite3 path and the portable query agree on every kind
    of serial: issued, revoked, assigned without a response, unassigned, other issuer."""
    good = issue_with_status(ca, ["fast-good.status.example.com"]).issued.serial
    gone = issue_with_status(ca, ["fast-revoked.status.example.com"]).issued.serial
    revoke(ca, gone, 1, datetime.now(UTC).replace(microsecond=0))
    fast = OcspStore(ca.inventory.engine)
    assert fast._fast is not None  # the home is SQLite: the fast path is in use
    slow = OcspStore(ca.inventory.engine)
    slow._fast = None
    issuer_id = ca.active_issuer("ecdsa-p256").id
    assert issuer_id is not None
    bare = issue_with_status(ca, ["fast-bare.status.example.com"]).issued.serial
    with write_transaction(ca.inventory.engine) as conn:  # assigned, without a response
        conn.execute(delete(ocsp_responses).where(ocsp_responses.c.serial == bare))
    cases = [(issuer_id, good), (issuer_id, gone), (issuer_id, bare), (issuer_id, "77")]
    cases.append((issuer_id + 1, good))
    for case in cases:
        assert fast.lookup(*case) == slow.lookup(*case), case
    assert fast.lookup(issuer_id, gone).response.status == "revoked"  # type: ignore[union-attr]
    assert fast.lookup(issuer_id, bare) == slow.lookup(issuer_id, bare)
    assert fast.lookup(issuer_id, bare).response is None
    assert fast.lookup(issuer_id, good).response.this_update.tzinfo is UTC  # type: ignore[union-attr]
