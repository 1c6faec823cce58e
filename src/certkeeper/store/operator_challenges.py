"""Random values handed to an operator by `certkeeper validate` (BR 3.2.2.4).

One row per value: the name and challenge it is for, when it was made and when it stops
being usable (BR: 30 days), and when it was used (a value validates once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from certkeeper.store.database import write_transaction
from certkeeper.store.tables import operator_challenges


@dataclass(frozen=True)
class OperatorChallenge:
    id: int | None
    fqdn: str
    wildcard: bool
    challenge_type: str
    token: str
    key_authorization: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class OperatorChallengeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, rec: OperatorChallenge) -> OperatorChallenge:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(operator_challenges).values(
                    fqdn=rec.fqdn,
                    wildcard=rec.wildcard,
                    challenge_type=rec.challenge_type,
                    token=rec.token,
                    key_authorization=rec.key_authorization,
                    created_at=rec.created_at,
                    expires_at=rec.expires_at,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
        return OperatorChallenge(**{**rec.__dict__, "id": int(key[0])})

    def pending(
        self, fqdn: str, wildcard: bool, challenge_type: str, now: datetime
    ) -> OperatorChallenge | None:
        """The newest unused, unexpired value for this name and challenge."""
        c = operator_challenges.c
        query = (
            select(operator_challenges)
            .where(
                c.fqdn == fqdn,
                c.wildcard.is_(wildcard),
                c.challenge_type == challenge_type,
                c.used_at.is_(None),
                c.expires_at > now,
                c.created_at <= now,
            )
            .order_by(c.created_at.desc(), c.id.desc())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else OperatorChallenge(**row._mapping)

    def mark_used(self, challenge_id: int, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(operator_challenges)
                .where(operator_challenges.c.id == challenge_id)
                .values(used_at=now)
            )
