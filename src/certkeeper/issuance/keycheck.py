"""The issuance hook that refuses compromised and weak subscriber keys (BR 6.1.1.3).

Known-compromised keys first (a database read), then the weak-key arithmetic of
`certkeeper.keys.weak`. ACME account keys go through the same checker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.issuance.service import KeyRefused
from certkeeper.keys.spki import KeyEntry, spki_sha256
from certkeeper.keys.weak import public_key_problem
from certkeeper.store.blocked_keys import BlockedKey, BlockedKeyStore

if TYPE_CHECKING:
    from sqlalchemy import Connection


def block_listed(
    store: BlockedKeyStore,
    entries: Sequence[KeyEntry],
    why: str,
    now: datetime,
    also: Callable[[Connection, int], None] | None = None,
) -> int:
    """Block an operator's list (`certkeeper keys block`); returns how many were new.
    `also(conn, added)` runs in the same transaction (the audit log)."""
    return store.add(
        [BlockedKey(e.spki_sha256, "operator", f"{why} ({e.what})", None, now) for e in entries],
        also,
    )


class SubscriberKeyChecker:
    """Raises KeyRefused naming the rule: `blocked_key` or a `certkeeper.keys.weak` rule."""

    def __init__(self, blocked: BlockedKeyStore) -> None:
        self.blocked = blocked

    def __call__(self, key: object) -> None:
        self.refuse_blocked(key)
        problem = public_key_problem(key)
        if problem is not None:
            raise KeyRefused(problem.rule, problem.detail)

    def refuse_blocked(self, key: object) -> None:
        fingerprint = spki_sha256(key)
        entry = self.blocked.get(fingerprint)
        if entry is not None:
            raise KeyRefused(
                "blocked_key",
                f"the key (SPKI SHA-256 {fingerprint}) is blocked as compromised since "
                f"{entry.blocked_at.isoformat()} ({entry.source}: {entry.detail}); BR 6.1.1.3",
            )

    def check_account_key(self, key: object) -> None:
        """An ACME account key: never a blocked key; RSA and ECDSA keys also pass the
        weak-key rules (Ed25519 has no such failure modes)."""
        self.refuse_blocked(key)
        if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            problem = public_key_problem(key)
            if problem is not None:
                raise KeyRefused(problem.rule, problem.detail)
