"""The audit log's chain on both backends: each kind of tampering is found and named."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, update

from certkeeper.audit_chain import GENESIS, AuditFilter, Checkpoint
from certkeeper.auditlog.log import AuditLog
from certkeeper.settings.audit_log import AuditLogSettings
from certkeeper.store.audit_log import AuditLogStore
from certkeeper.store.tables import audit_log

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def filled(engine: Engine, mirror: Path | None = None, n: int = 5) -> AuditLog:
    log = AuditLog(AuditLogStore(engine), AuditLogSettings(mirror=mirror))
    for i in range(n):
        log.append(
            "certificate.issued" if i % 2 == 0 else "profile.disabled",
            f"www{i}.example.com",
            "alice" if i < 3 else "bob",
            serial=f"{i + 1:x}a",
            detail={"i": i},
            at=T0 + timedelta(minutes=i),
        )
    return log


def kinds(log: AuditLog, checkpoints: list[Checkpoint] | None = None) -> list[tuple[int, str]]:
    result = log.verify(checkpoints or [])
    return [(p.seq, p.kind) for p in result.problems or []]


def test_an_untouched_chain_verifies(engine: Engine) -> None:
    log = filled(engine)
    result = log.verify()
    assert result.ok and result.entries == 5
    assert result.head is not None and result.head.seq == 5
    first = next(log.entries())
    assert first.prev_hash == GENESIS


def test_an_edited_entry_is_found(engine: Engine) -> None:
    log = filled(engine)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory"))
    assert kinds(log) == [(3, "edited")]


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(engine: Engine) -> None:
    from certkeeper.audit_chain import entry_hash

    log = filled(engine)
    e3 = next(e for e in log.entries() if e.seq == 3)
    forged = entry_hash(replace(e3, actor="mallory"))
    with engine.begin() as conn:
        conn.execute(
            update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory", hash=forged)
        )
    assert kinds(log) == [(4, "broken-link")]


def test_a_deleted_entry_is_found(engine: Engine) -> None:
    log = filled(engine)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    assert kinds(log) == [(3, "missing"), (3, "broken-link")]


def test_reordered_entries_are_found(engine: Engine) -> None:
    """Swapping the contents of two rows (keeping their numbers) and swapping their
    numbers are both found."""
    log = filled(engine)
    rows = {e.seq: e for e in log.entries()}
    with engine.begin() as conn:
        for seq, other in ((2, 4), (4, 2)):
            src = rows[other]
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == seq)
                .values(
                    actor=src.actor,
                    event=src.event,
                    subject=src.subject,
                    serial=src.serial,
                    detail=src.detail,
                    at=src.at,
                    prev_hash=src.prev_hash,
                    hash=src.hash,
                )
            )
    found = kinds(log)
    assert (2, "edited") in found and (4, "edited") in found
    assert (2, "broken-link") in found and (3, "broken-link") in found


def test_a_truncated_or_rewritten_chain_fails_its_checkpoint(engine: Engine) -> None:
    log = filled(engine)
    point = log.checkpoint()
    assert point.seq == 5
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
    assert log.verify().ok  # the rest still chains: only the checkpoint tells
    assert kinds(log, [point]) == [(5, "checkpoint")]
    log.append("ca.activated", "tls-ecdsa-2", "mallory", at=T0)
    log.append("ca.activated", "tls-ecdsa-2", "mallory", at=T0)
    assert kinds(log, [point]) == [(5, "checkpoint")]


def test_an_empty_log_matches_the_genesis_checkpoint(engine: Engine) -> None:
    log = AuditLog(AuditLogStore(engine), AuditLogSettings())
    point = log.checkpoint()
    assert (point.seq, point.hash) == (0, GENESIS)
    assert log.verify([point]).ok


def test_show_filters(engine: Engine) -> None:
    log = filled(engine)
    assert [e.seq for e in log.entries(AuditFilter(actor="bob"))] == [4, 5]
    assert [e.seq for e in log.entries(AuditFilter(event="profile."))] == [2, 4]
    assert [e.seq for e in log.entries(AuditFilter(serial="3a"))] == [3]
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [e.seq for e in log.entries(window)] == [2, 3]


def test_the_mirror_holds_every_entry_and_finds_a_difference(
    engine: Engine, tmp_path: Path
) -> None:
    mirror = tmp_path / "audit.jsonl"
    log = filled(engine, mirror)
    assert len(mirror.read_text().splitlines()) == 5
    assert log.check_mirror(mirror).problems == []
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 5))
    problems = log.check_mirror(mirror).problems
    assert [p.message for p in problems] == [f"{mirror} has entry 5, the inventory does not"]


def test_concurrent_writers_never_fork_the_chain(engine: Engine) -> None:
    log = AuditLog(AuditLogStore(engine), AuditLogSettings())
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            for i in range(15):
                log.append("certificate.issued", f"{who}{i}", who, at=T0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = log.verify()
    assert result.ok and result.entries == 60


@pytest.mark.parametrize(
    "bad", [{"seq": -1}, {"seq": 1, "hash": "zz"}, {"seq": 1, "hash": "0" * 64}]
)
def test_a_malformed_checkpoint_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_dict(bad)
