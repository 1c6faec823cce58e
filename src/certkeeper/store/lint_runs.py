"""Relint runs and their findings: what the inventory's lint history looks like."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, insert, select, update

from certkeeper.store.database import write_transaction
from certkeeper.store.tables import lint_findings, lint_runs

# (serial, document, linter, lint_id): the identity of a finding across runs.
FindingKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class RunFinding:
    serial: str
    document: str  # precertificate | certificate
    linter: str
    lint_id: str
    severity: str
    location: str
    message: str

    @property
    def key(self) -> FindingKey:
        return (self.serial, self.document, self.linter, self.lint_id)


@dataclass(frozen=True)
class LintRun:
    id: int
    started_at: datetime
    finished_at: datetime | None
    lint_set: str
    documents: int
    findings: int


class LintRunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, lint_set: str, now: datetime) -> int:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(lint_runs).values(
                    started_at=now, finished_at=None, lint_set=lint_set, documents=0, findings=0
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def add(self, run_id: int, findings: Iterable[RunFinding], now: datetime) -> int:
        rows = [
            {
                "serial": f.serial,
                "document": f.document,
                "linter": f.linter,
                "lint_id": f.lint_id,
                "severity": f.severity,
                "location": f.location,
                "message": f.message,
                "waived": False,
                "run_id": run_id,
                "created_at": now,
            }
            for f in findings
        ]
        if rows:
            with write_transaction(self.engine) as conn:
                conn.execute(insert(lint_findings), rows)
        return len(rows)

    def finish(self, run_id: int, documents: int, findings: int, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(lint_runs)
                .where(lint_runs.c.id == run_id)
                .values(finished_at=now, documents=documents, findings=findings)
            )

    def previous_finished(self, before_run: int) -> LintRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(lint_runs)
                .where(and_(lint_runs.c.id < before_run, lint_runs.c.finished_at.is_not(None)))
                .order_by(lint_runs.c.id.desc())
                .limit(1)
            ).first()
        return LintRun(**row._mapping) if row is not None else None

    def keys(self, run_id: int | None) -> set[FindingKey]:
        """Finding identities of a run; `None` means those recorded at issuance."""
        cond = (
            lint_findings.c.run_id.is_(None) if run_id is None else lint_findings.c.run_id == run_id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    lint_findings.c.serial,
                    lint_findings.c.document,
                    lint_findings.c.linter,
                    lint_findings.c.lint_id,
                ).where(cond)
            )
            return {(r[0], r[1], r[2], r[3]) for r in rows}

    def findings(self, run_id: int) -> list[RunFinding]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    lint_findings.c.serial,
                    lint_findings.c.document,
                    lint_findings.c.linter,
                    lint_findings.c.lint_id,
                    lint_findings.c.severity,
                    lint_findings.c.location,
                    lint_findings.c.message,
                ).where(lint_findings.c.run_id == run_id)
            )
            return [RunFinding(*r) for r in rows]

    def runs(self) -> list[LintRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(lint_runs).order_by(lint_runs.c.id))
            return [LintRun(**r._mapping) for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(lint_runs)).scalar_one())
