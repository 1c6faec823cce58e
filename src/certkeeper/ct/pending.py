"""Precertificates waiting for SCTs: what `certkeeper ct pending` lists."""

from __future__ import annotations

from certkeeper.store.scts import PendingRecord, SctStore


def waiting_for_scts(store: SctStore) -> list[PendingRecord]:
    """Every precertificate whose final certificate waits for SCTs, oldest first."""
    records = [store.pending(serial) for serial in store.pending_serials()]
    # a resumed precertificate that a linter then refused is failed, not waiting
    return sorted((r for r in records if r.state == "precertificate"), key=lambda r: r.updated_at)
