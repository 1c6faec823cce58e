"""Every repository of one CA database, built once over one engine.

Services are handed the stores they use instead of an engine to build them from, so a
function's signature says what it touches and only `store/` knows the engine. The
engine itself is reachable for the two things a caller needs it for: a transaction
spanning several stores, and dropping pooled connections before a fork.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from certkeeper.store.acme import AcmeStore
from certkeeper.store.audit_log import AuditLogStore
from certkeeper.store.batches import BatchStore
from certkeeper.store.blocked_keys import BlockedKeyStore, HierarchyStore
from certkeeper.store.crl_repo import CrlStore
from certkeeper.store.database import write_transaction
from certkeeper.store.incidents import IncidentStore
from certkeeper.store.inventory import Inventory
from certkeeper.store.lint_runs import LintRunStore
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.store.operator_challenges import OperatorChallengeStore
from certkeeper.store.profile_control import ProfileControlStore
from certkeeper.store.revocations import RevocationStore
from certkeeper.store.scts import SctStore
from certkeeper.store.validations import DomainValidationStore


@dataclass(frozen=True)
class Stores:
    """The repositories of one database; `Stores.over(inventory)` builds them all."""

    inventory: Inventory
    acme: AcmeStore
    audit_log: AuditLogStore
    batches: BatchStore
    blocked_keys: BlockedKeyStore
    crl: CrlStore
    hierarchy: HierarchyStore
    incidents: IncidentStore
    lint_runs: LintRunStore
    ocsp: OcspStore
    operator_challenges: OperatorChallengeStore
    profile_control: ProfileControlStore
    revocations: RevocationStore
    scts: SctStore
    validations: DomainValidationStore

    @classmethod
    def over(cls, inventory: Inventory) -> Stores:
        engine = inventory.engine
        return cls(
            inventory=inventory,
            acme=AcmeStore(engine),
            audit_log=AuditLogStore(engine),
            batches=BatchStore(engine),
            blocked_keys=BlockedKeyStore(engine),
            crl=CrlStore(engine),
            hierarchy=HierarchyStore(engine),
            incidents=IncidentStore(engine),
            lint_runs=LintRunStore(engine),
            ocsp=OcspStore(engine),
            operator_challenges=OperatorChallengeStore(engine),
            profile_control=ProfileControlStore(engine),
            revocations=RevocationStore(engine),
            scts=SctStore(engine),
            validations=DomainValidationStore(engine),
        )

    @property
    def engine(self) -> Engine:
        return self.inventory.engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction for several stores' `..._in(conn)` writes."""
        with write_transaction(self.engine) as conn:
            yield conn

    def dispose(self) -> None:
        """Drop pooled connections (before a fork: none may cross it)."""
        self.engine.dispose()
