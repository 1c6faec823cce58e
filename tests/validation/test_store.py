"""Domain validation records and CAA checks on both database backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.validations import CaaCheck, DomainValidation, DomainValidationStore

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> Iterator[DomainValidationStore]:
    url = sqlite_url(tmp_path / "inventory.db") if request.param == "sqlite" else new_pg_database()
    engine: Engine = connect(url)
    migrate(engine)
    try:
        yield DomainValidationStore(engine)
    finally:
        engine.dispose()


def record(fqdn: str = "www.example.com", **kw: object) -> DomainValidation:
    values: dict[str, object] = {
        "id": None,
        "fqdn": fqdn,
        "wildcard": False,
        "account_uri": "https://ca.example/acme/acct/1",
        "method": "3.2.2.4.19",
        "challenge_type": "http-01",
        "evidence": {"urls": [{"url": "http://www.example.com/x", "status": 200}]},
        "validated_at": NOW,
        "reuse_until": NOW + timedelta(days=200),
        "perspectives": {"passed": True, "required": 2, "results": []},
    }
    values.update(kw)
    return DomainValidation(**values)  # type: ignore[arg-type]


def test_round_trip_and_candidates(store: DomainValidationStore) -> None:
    first = store.record_validation(record())
    newer = store.record_validation(record(validated_at=NOW + timedelta(hours=1)))
    store.record_validation(record(account_uri="https://ca.example/acme/acct/2"))
    store.record_validation(record(reuse_until=NOW + timedelta(minutes=30)))
    wild = store.record_validation(
        record(wildcard=True, method="3.2.2.4.7", challenge_type="dns-01")
    )
    got = store.get(first)
    assert got == record(id=first)
    later = NOW + timedelta(hours=2)
    ids = [
        r.id
        for r in store.candidates(
            "www.example.com", "https://ca.example/acme/acct/1", wildcard=False, now=later
        )
    ]
    assert ids[0] == newer and set(ids) == {first, newer, wild}  # expired one left out
    wild_ids = [
        r.id
        for r in store.candidates(
            "www.example.com", "https://ca.example/acme/acct/1", wildcard=True, now=later
        )
    ]
    assert wild_ids == [wild]
    assert len(store.history("www.example.com")) == 5


def test_caa_checks_and_serial_link(store: DomainValidationStore) -> None:
    def check(fqdn: str, allowed: bool) -> int:
        return store.record_caa(
            CaaCheck(
                id=None,
                fqdn=fqdn,
                wildcard=False,
                account_uri="https://ca.example/acme/acct/1",
                checked_at=NOW,
                allowed=allowed,
                problem_type=None if allowed else "caa",
                detail="d",
                evidence={"relevant": {"name": fqdn}},
                perspectives={"passed": allowed},
                context={"order": 7},
            )
        )

    a, b, c = check("a.example.com", True), check("b.example.com", True), check("c.example", False)
    store.attach_serial([a, b], "1f2e")
    store.attach_serial([a], "ffff")  # a check already linked keeps its certificate
    linked = store.caa_checks(serial="1f2e")
    assert [x.id for x in linked] == [a, b]
    assert linked[0].context == {"order": 7} and linked[0].evidence["relevant"]["name"]
    assert [x.id for x in store.caa_checks(fqdn="c.example")] == [c]
    assert len(store.caa_checks()) == 3
