"""Stores: every repository of one database over its one engine, and the transaction
that spans several of them."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from certkeeper.store.inventory import Inventory
from certkeeper.store.stores import Stores
from certkeeper.store.tables import subscribers

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _subscriber_ids(inv: Inventory) -> set[str]:
    with inv.engine.connect() as conn:
        return {str(s) for s in conn.execute(select(subscribers.c.id)).scalars()}


def test_every_store_works_on_the_inventorys_engine(inv: Inventory) -> None:
    stores = Stores.over(inv)
    assert stores.inventory is inv
    assert all(getattr(stores, f.name).engine is inv.engine for f in fields(stores))


def test_a_transaction_commits_on_success_and_keeps_nothing_on_failure(inv: Inventory) -> None:
    stores = Stores.over(inv)
    with stores.transaction() as conn:
        conn.execute(insert(subscribers).values(id="kept", created_at=NOW))
    with pytest.raises(RuntimeError), stores.transaction() as conn:
        conn.execute(insert(subscribers).values(id="dropped", created_at=NOW))
        raise RuntimeError("the process dies before the commit")
    assert _subscriber_ids(inv) == {"kept"}


def test_contacts_set_through_the_service_create_the_subscriber(inv: Inventory) -> None:
    from certkeeper.revocation.notify import set_contacts

    stores = Stores.over(inv)
    set_contacts(inv, stores.incidents, "shop", ["ops@shop.example"], ["cto@shop.example"], NOW)
    assert _subscriber_ids(inv) == {"shop"}
    assert stores.incidents.contacts("shop") == [
        ("ops@shop.example", "primary"),
        ("cto@shop.example", "backup"),
    ]
