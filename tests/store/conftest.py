"""Inventory fixtures: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from store_helpers import Builder, issuer_record

from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import IssuerRecord


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> Iterator[Engine]:
    """A freshly migrated inventory database on SQLite (a file) or PostgreSQL."""
    url = sqlite_url(tmp_path / "inventory.db") if request.param == "sqlite" else new_pg_database()
    eng = connect(url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def inv(engine: Engine) -> Inventory:
    return Inventory(engine)


@pytest.fixture
def issuer(inv: Inventory) -> IssuerRecord:
    return inv.add_issuer(issuer_record())


@pytest.fixture
def build(inv: Inventory, issuer: IssuerRecord) -> Builder:
    assert issuer.id is not None
    return Builder(inv, issuer.id)
