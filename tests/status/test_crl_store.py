"""Revocation rules (BR 7.2.2), shard entries, CRL numbers and publishing leases."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from certkeeper.errors import NotFound
from certkeeper.store.crl_repo import (
    CrlNumberExhausted,
    CrlStore,
    LeaseLost,
    next_crl_number,
)
from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import IssuerRecord
from certkeeper.store.revocations import RevocationRefused, RevocationStore
from certkeeper.store.tables import precertificates, serials
from certkeeper.x509 import crl

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _issuer(name: str) -> IssuerRecord:
    der = f"issuer-{name}".encode()
    digest = hashlib.sha256(der).hexdigest()
    return IssuerRecord(
        id=None,
        name=name,
        role="issuing",
        state="active",
        key_type="ecdsa-p256",
        parent_id=None,
        subject=f"CN={name}",
        ski=digest[:40],
        sha256=digest,
        cert_der=der,
        key_ref=f"keys/{name}.pem",
        not_before=T0 - 365 * DAY,
        not_after=T0 + 5 * 365 * DAY,
        created_at=T0 - 365 * DAY,
    )


def _key_holder_der(serial: str) -> bytes:
    """A parseable certificate standing in for the precertificate: a keyCompromise
    revocation reads its key to block it (BR 6.1.1.3)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, serial)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial, 16))
        .not_valid_before(T0 - DAY)
        .not_valid_after(T0 + 90 * DAY)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def add_signed(
    engine: Engine,
    issuer_id: int,
    serial: str,
    shard: int,
    not_before: datetime,
    not_after: datetime,
    *,
    signed: bool = True,
) -> None:
    """A serial with a precertificate, as issuance leaves it (synthetic DER)."""
    with engine.begin() as conn:
        conn.execute(
            insert(serials).values(
                serial=serial,
                issuer_id=issuer_id,
                assigned_at=not_before,
                state="precertificate" if signed else "assigned",
                profile_id="tls-dv-ecdsa",
                profile_version=1,
                crl_shard=shard,
            )
        )
        if signed:
            conn.execute(
                insert(precertificates).values(
                    serial=serial,
                    issuer_id=issuer_id,
                    der=_key_holder_der(serial),
                    sha256=hashlib.sha256(serial.encode()).hexdigest(),
                    tbs_sha256=hashlib.sha256(b"tbs" + serial.encode()).hexdigest(),
                    not_before=not_before,
                    not_after=not_after,
                    created_at=not_before,
                )
            )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, int]]:
    engine = connect(sqlite_url(tmp_path / "inventory.db"))
    migrate(engine)
    rec = Inventory(engine).add_issuer(_issuer("tls-ecdsa-1"))
    assert rec.id is not None
    try:
        yield engine, rec.id
    finally:
        engine.dispose()


# -- revocation rules -------------------------------------------------------------------


def test_revoke_then_only_key_compromise_may_change_it(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    add_signed(engine, issuer_id, "a1", 1, T0 - 10 * DAY, T0 + 80 * DAY)
    store = RevocationStore(engine)
    first = store.record("a1", T0, crl.SUPERSEDED, "CPS mismatch", None, T0)
    assert first.action == "revoked"
    assert (first.record.crl_shard, first.record.not_after) == (1, T0 + 80 * DAY)

    again = store.record("a1", T0 + DAY, crl.SUPERSEDED, None, None, T0 + DAY)
    assert again.action == "unchanged" and again.record.revoked_at == T0

    with pytest.raises(RevocationRefused, match=r"BR 7\.2\.2.*only.*keyCompromise"):
        store.record("a1", T0 + DAY, crl.CESSATION_OF_OPERATION, None, None, T0 + DAY)
    with pytest.raises(RevocationRefused, match=r"BR 7\.2\.2"):
        store.record("a1", T0 + DAY, None, None, None, T0 + DAY)

    # keyCompromise later than the first revocation keeps the earlier time...
    later = store.record("a1", T0 + 2 * DAY, crl.KEY_COMPROMISE, "key posted", 7, T0 + 2 * DAY)
    assert later.action == "updated"
    assert later.record.reason == crl.KEY_COMPROMISE and later.record.revoked_at == T0
    # ...and may move it earlier, to when the key was compromised (BR 7.2.2 note).
    earlier = store.record("a1", T0 - 5 * DAY, crl.KEY_COMPROMISE, None, None, T0 + 3 * DAY)
    assert earlier.record.revoked_at == T0 - 5 * DAY
    stored = store.get("a1")
    assert stored is not None
    assert (stored.revoked_at, stored.reason, stored.incident_id) == (T0 - 5 * DAY, 1, 7)
    assert stored.evidence == "key posted"


@pytest.mark.parametrize(
    ("reason", "match"),
    [
        (crl.CERTIFICATE_HOLD, "certificateHold"),
        (crl.CA_COMPROMISE, "cACompromise"),
        (crl.REMOVE_FROM_CRL, r"BR 7\.2\.2"),
        (10, r"BR 7\.2\.2"),
    ],
)
def test_reasons_the_brs_forbid_are_refused(
    db: tuple[Engine, int], reason: int, match: str
) -> None:
    engine, issuer_id = db
    add_signed(engine, issuer_id, "b2", 2, T0 - DAY, T0 + 30 * DAY)
    with pytest.raises(RevocationRefused, match=match):
        RevocationStore(engine).record("b2", T0, reason, None, None, T0)
    assert RevocationStore(engine).get("b2") is None


def test_unspecified_is_stored_as_absent(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    add_signed(engine, issuer_id, "c3", 3, T0 - DAY, T0 + 30 * DAY)
    out = RevocationStore(engine).record("c3", T0, crl.UNSPECIFIED, None, None, T0)
    assert out.record.reason is None


def test_times_and_unknown_serials(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    store = RevocationStore(engine)
    add_signed(engine, issuer_id, "d4", 0, T0 - DAY, T0 + 30 * DAY)
    add_signed(engine, issuer_id, "e5", 1, T0 - DAY, T0 + 30 * DAY, signed=False)
    with pytest.raises(RevocationRefused, match="future"):
        store.record("d4", T0 + DAY, crl.SUPERSEDED, None, None, T0)
    with pytest.raises(RevocationRefused, match="backdating only for keyCompromise"):
        store.record("d4", T0 - DAY, crl.SUPERSEDED, None, None, T0)
    with pytest.raises(NotFound, match="never assigned"):
        store.record("f00d", T0, None, None, None, T0)
    with pytest.raises(NotFound, match="nothing to revoke"):
        store.record("e5", T0, None, None, None, T0)
    assert store.record("d4", T0 - DAY, crl.KEY_COMPROMISE, None, None, T0).action == "revoked"


# -- entries and lookback --------------------------------------------------------------


def test_entries_stay_until_not_after_plus_lookback(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    add_signed(engine, issuer_id, "1f", 3, T0 - DAY, T0 + 5 * DAY)
    add_signed(engine, issuer_id, "2f", 3, T0 - DAY, T0 + 50 * DAY)
    add_signed(engine, issuer_id, "3e", 2, T0 - DAY, T0 + 50 * DAY)
    revs = RevocationStore(engine)
    for serial in ("1f", "2f", "3e"):
        revs.record(serial, T0, crl.SUPERSEDED, None, None, T0)
    store = CrlStore(engine)
    lookback = 2 * DAY

    def shard3(at: datetime) -> list[str]:
        return [s for s, _, _ in store.entries(issuer_id, 3, at, lookback)]

    assert shard3(T0) == ["1f", "2f"]
    assert shard3(T0 + 7 * DAY) == ["1f", "2f"]  # expired two days ago: still listed
    assert shard3(T0 + 7 * DAY + timedelta(seconds=1)) == ["2f"]
    assert store.entry_counts(issuer_id, T0, lookback) == {2: 1, 3: 2}
    assert len(store.entries(issuer_id, -1, T0, lookback)) == 3  # the full scope


# -- numbers ----------------------------------------------------------------------------


def test_next_number_only_grows_and_stops_below_2_159() -> None:
    assert next_crl_number(0, T0) == int(T0.timestamp())
    assert next_crl_number(int(T0.timestamp()) + 50, T0) == int(T0.timestamp()) + 51
    # a clock that went back, or a restored backup: still above both
    assert next_crl_number(10, T0 - 365 * DAY) == int((T0 - 365 * DAY).timestamp())
    with pytest.raises(CrlNumberExhausted, match="2\\*\\*159"):
        next_crl_number(2**159 - 1, T0)


def test_record_published_needs_the_lease_and_a_larger_number(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    store = CrlStore(engine)
    args = (T0, T0 + 7 * DAY, 0, 300, "00" * 32, T0)
    with pytest.raises(LeaseLost):
        store.record_published(issuer_id, 0, "me", 5, *args)
    assert store.acquire(issuer_id, 0, "me", T0 + 60 * timedelta(seconds=1), T0)
    store.record_published(issuer_id, 0, "me", 5, *args)
    with pytest.raises(Exception, match="only grow"):
        store.record_published(issuer_id, 0, "me", 5, *args)
    state = store.state(issuer_id, 0)
    assert state is not None and state.crl_number == 5 and state.size_bytes == 300
    assert store.next_number(issuer_id, 0, datetime(1970, 1, 1, tzinfo=UTC)) == 6
    # an expired lease cannot record anything
    with pytest.raises(LeaseLost):
        store.record_published(issuer_id, 0, "me", 9, *args[:-1], T0 + DAY)


# -- leases -----------------------------------------------------------------------------


def test_lease_is_exclusive_until_released_or_expired(db: tuple[Engine, int]) -> None:
    engine, issuer_id = db
    store = CrlStore(engine)
    until = T0 + timedelta(minutes=10)
    assert store.acquire(issuer_id, 4, "a", until, T0)
    assert not store.acquire(issuer_id, 4, "b", until, T0 + timedelta(minutes=1))
    assert store.holder(issuer_id, 4, T0) == "a"
    assert store.acquire(issuer_id, 4, "a", until + DAY, T0)  # renewal by the holder
    assert not store.release(issuer_id, 4, "b")
    assert store.release(issuer_id, 4, "a")
    assert store.acquire(issuer_id, 4, "b", until, T0)
    # b's lease runs out; a may take it then, not before
    assert not store.acquire(issuer_id, 4, "a", until + DAY, until - timedelta(seconds=1))
    assert store.acquire(issuer_id, 4, "a", until + DAY, until)
    assert not store.release(issuer_id, 4, "b")


def _lease_worker(url: str, issuer_id: int, owner: str, barrier: Any) -> list[tuple[float, float]]:
    """Once both processes are ready, take the lease of shard 0 whenever it is free
    until this process has held it five times (at most 15 s); return the wall-clock
    intervals during which it held it."""
    engine = connect(url)
    store = CrlStore(engine)
    held: list[tuple[float, float]] = []
    barrier.wait(timeout=60)  # both contend from the same moment, however slow the start
    give_up = time.time() + 15
    try:
        while len(held) < 5 and time.time() < give_up:
            now = datetime.now(UTC)
            if store.acquire(issuer_id, 0, owner, now + timedelta(minutes=5), now):
                start = time.time()
                time.sleep(0.003)
                end = time.time()
                assert store.release(issuer_id, 0, owner)
                held.append((start, end))
            else:
                time.sleep(0.001)
    finally:
        engine.dispose()
    return held


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lease_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> tuple[str, int]:
    url = sqlite_url(tmp_path / "leases.db") if request.param == "sqlite" else new_pg_database()
    engine = connect(url)
    try:
        migrate(engine)
        rec = Inventory(engine).add_issuer(_issuer("tls-ecdsa-1"))
    finally:
        engine.dispose()
    assert rec.id is not None
    return url, rec.id


def test_two_processes_never_hold_a_shard_lease_at_once(lease_url: tuple[str, int]) -> None:
    url, issuer_id = lease_url
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2)
        results = pool.starmap(
            _lease_worker, [(url, issuer_id, "p1", barrier), (url, issuer_id, "p2", barrier)]
        )
    a, b = results
    assert a and b, "both processes should have held the lease at some point"
    for s1, e1 in a:
        for s2, e2 in b:
            assert e1 <= s2 or e2 <= s1, f"overlap: {(s1, e1)} and {(s2, e2)}"


def test_pending_counts_every_revocation_until_a_crl_that_read_it_is_written(
    lease_url: tuple[str, int],
) -> None:
    """On both backends: revocations (inserted, changed to keyCompromise, by a campaign's
    upsert on a shard with or without a row) count as pending; a publication clears only
    what it read, and only under its lease."""
    from certkeeper.store.crl_repo import add_pending
    from certkeeper.store.database import write_transaction

    url, issuer_id = lease_url
    engine = connect(url)
    try:
        store, revs = CrlStore(engine), RevocationStore(engine)
        for i, shard in enumerate((0, 0, 3)):
            add_signed(engine, issuer_id, f"{i + 1:032x}", shard, T0 - DAY, T0 + 90 * DAY)
            revs.record(f"{i + 1:032x}", T0, crl.SUPERSEDED, None, None, T0)
        assert store.pending_shards() == {(issuer_id, 0): 2, (issuer_id, 3): 1}
        assert store.acquire(issuer_id, 0, "me", T0 + DAY, T0)
        read = store.state(issuer_id, 0)
        assert read is not None and read.pending == 2
        revs.record(f"{1:032x}", T0, crl.KEY_COMPROMISE, None, None, T0)  # after the read
        with write_transaction(engine) as conn:
            add_pending(conn, {(issuer_id, 0): 5, (issuer_id, 7): 4})  # 7 has no row yet
        assert not store.mark_published(issuer_id, 0, "someone-else", read.revision)
        assert store.mark_published(issuer_id, 0, "me", read.revision)
        assert not store.mark_published(issuer_id, 0, "me", read.revision - 1)  # never back
        assert store.pending_shards() == {(issuer_id, 0): 6, (issuer_id, 3): 1, (issuer_id, 7): 4}
    finally:
        engine.dispose()
