"""State shared by several ACME front ends through the database: nonces issued by one
process are accepted once by any other, on SQLite and on a real PostgreSQL; nonces expire;
concurrent finalize-style state changes have exactly one winner."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from certkeeper.acme.nonces import NonceService
from certkeeper.acme.problems import AcmeProblem
from certkeeper.store.acme import AcmeStore, NewAuthorization
from certkeeper.store.database import connect, migrate, sqlite_url

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> Engine:
    url = sqlite_url(tmp_path / "acme.db") if request.param == "sqlite" else new_pg_database()
    engine = connect(url)
    migrate(engine)
    return engine


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_nonce_from_one_front_end_is_used_once_by_any(engine: Engine) -> None:
    clock = Clock(NOW)
    front_a = NonceService(AcmeStore(engine), 3600, clock)
    front_b = NonceService(AcmeStore(engine), 3600, clock)
    nonce = front_a.issue()
    expires = front_b.check(nonce)
    front_b.consume(nonce, expires)
    with pytest.raises(AcmeProblem) as info:
        front_a.consume(nonce, front_a.check(nonce))
    assert info.value.type == "badNonce"


def test_concurrent_replays_have_one_winner(engine: Engine) -> None:
    clock = Clock(NOW)
    service = NonceService(AcmeStore(engine), 3600, clock)
    nonce = service.issue()
    expires = service.check(nonce)

    def use(_: int) -> bool:
        try:
            service.consume(nonce, expires)
        except AcmeProblem:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(use, range(16)))
    assert results.count(True) == 1


def test_nonce_expiry_and_future_and_other_keys(tmp_path: Path) -> None:
    engine = connect(sqlite_url(tmp_path / "n.db"))
    migrate(engine)
    clock = Clock(NOW)
    service = NonceService(AcmeStore(engine), 600, clock)
    nonce = service.issue()
    clock.now = NOW + timedelta(seconds=601)
    with pytest.raises(AcmeProblem, match="expired"):
        service.check(nonce)
    clock.now = NOW - timedelta(minutes=5)
    with pytest.raises(AcmeProblem, match="future"):
        service.check(nonce)
    # A nonce of another CA (another key) is refused, whatever its shape.
    other_engine = connect(sqlite_url(tmp_path / "other.db"))
    migrate(other_engine)
    other = NonceService(AcmeStore(other_engine), 600, Clock(NOW))
    clock.now = NOW
    with pytest.raises(AcmeProblem, match="not issued by this server"):
        service.check(other.issue())


def test_finalize_transition_has_one_winner(engine: Engine) -> None:
    store = AcmeStore(engine)
    account = store.create_account(
        thumbprint="t" * 43,
        jwk="{}",
        contacts=["mailto:a@example.com"],
        tos_agreed=True,
        subscriber_id="acme:test",
        created_ip="127.0.0.1",
        now=NOW,
    )
    assert account is not None
    assert (
        store.create_account(
            thumbprint="t" * 43,
            jwk="{}",
            contacts=[],
            tos_agreed=True,
            subscriber_id="acme:test2",
            created_ip=None,
            now=NOW,
        )
        is None
    )
    order_id = store.create_order(
        account_id=account.id,
        identifiers=["a.example.com"],
        not_before=None,
        not_after=None,
        expires=NOW + timedelta(days=1),
        replaces=None,
        replaces_serial=None,
        rate_exempt=False,
        reuse=[],
        new=[NewAuthorization("a.example.com", False, "valid", NOW + timedelta(days=1), None, ())],
        now=NOW,
    )
    assert store.set_order_status(order_id, "ready", expect=("pending",))
    with ThreadPoolExecutor(8) as pool:
        wins = list(
            pool.map(
                lambda _: store.set_order_status(order_id, "processing", expect=("ready",)),
                range(8),
            )
        )
    assert wins.count(True) == 1
