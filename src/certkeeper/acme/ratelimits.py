"""Rate limits for a public CA, counted in the database so every front end shares them.

Each limit is a number of events under a key within a sliding window:

- `orders:<account>`        new orders per account per hour;
- `certs:<registered domain>`  certificates issued per registered domain (PSL) per week,
  checked at newOrder and taken atomically at finalize (`take`);
- `fail:<account>:<name>`   failed validations per account and name per hour;
- `accounts:<ip>`           new accounts per client IP address per 3 hours.

A hit is `rateLimited` (HTTP 429) with Retry-After: the time until the oldest counted
event leaves the window. An order that replaces (RFC 9773) a certificate of an open
incident is exempt from the order and certificate limits, so a mass revocation never
leaves subscribers unable to replace what the CA is revoking.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from certkeeper.acme.problems import AcmeProblem
from certkeeper.settings.acme import AcmeSettings
from certkeeper.store.acme import AcmeStore, Quota
from certkeeper.validation.ip_identifiers import is_ip

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
PURGE_EVERY = 1000  # recorded events between purges of those older than any window


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window: timedelta
    what: str  # for the problem detail


@lru_cache(maxsize=1)
def _psl() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registered_domain(name: str) -> str:
    """The registrable domain (public suffix + one label) of a name, or the name itself
    (an IP address counts on its own)."""
    bare = name.removeprefix("*.").lower()
    if is_ip(bare):
        return bare
    found = _psl().privatesuffix(bare)  # type: ignore[attr-defined]
    return str(found) if found else bare


class RateLimiter:
    def __init__(
        self, store: AcmeStore, settings: AcmeSettings, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._recorded = 0
        self._lock = threading.Lock()

    # Limits by kind ----------------------------------------------------------------------

    def new_order(self, account_id: int) -> Limit:
        return Limit(
            f"orders:{account_id}",
            self.settings.orders_per_account_per_hour,
            HOUR,
            "new orders per account per hour",
        )

    def certificates(self, names: Iterable[str]) -> list[Limit]:
        domains = sorted({registered_domain(n) for n in names})
        return [
            Limit(
                f"certs:{d}",
                self.settings.certificates_per_domain_per_week,
                WEEK,
                f"certificates per registered domain ({d}) per week",
            )
            for d in domains
        ]

    def failed_validations(self, account_id: int, name: str) -> Limit:
        return Limit(
            f"fail:{account_id}:{name}",
            self.settings.failed_validations_per_account_name_per_hour,
            HOUR,
            f"failed validations for {name} per account per hour",
        )

    def new_account(self, ip: str) -> Limit:
        return Limit(
            f"accounts:{ip}",
            self.settings.accounts_per_ip_per_3_hours,
            3 * HOUR,
            "new accounts per IP address per 3 hours",
        )

    # Checking and counting -----------------------------------------------------------

    def check(self, limits: Iterable[Limit]) -> None:
        """Refuse with `rateLimited` when any limit is already used up."""
        now = self.clock()
        for limit in limits:
            if limit.limit == 0:
                continue
            count, oldest = self.store.count_events(limit.key, now - limit.window)
            if count >= limit.limit:
                raise _limited(limit, count, oldest, now)

    def take(self, limits: Iterable[Limit]) -> list[int]:
        """Check and count in one transaction: one event under every limit, or a
        `rateLimited` refusal and none. For what must not be exceeded by requests in
        parallel (certificates per registered domain, taken at finalize); the ids go
        back with `give_back` when the issuance fails."""
        now = self.clock()
        by_key = {limit.key: limit for limit in limits if limit.limit != 0}
        quotas = [Quota(k, lim.limit, now - lim.window) for k, lim in by_key.items()]
        if not quotas:
            return []
        taken = self.store.take_quota(quotas, now)
        if isinstance(taken, tuple):
            quota, count, oldest = taken
            raise _limited(by_key[quota.key], count, oldest, now)
        return taken

    def give_back(self, taken: list[int]) -> None:
        self.store.release_events(taken)

    def record(self, limits: Iterable[Limit]) -> None:
        keys = [limit.key for limit in limits if limit.limit != 0]
        self.store.add_events(keys, self.clock())
        with self._lock:
            self._recorded += len(keys)
            purge = self._recorded >= PURGE_EVERY
            if purge:
                self._recorded = 0
        if purge:
            self.store.purge_events(self.clock() - WEEK)


def _limited(limit: Limit, count: int, oldest: datetime | None, now: datetime) -> AcmeProblem:
    wait = 1
    if oldest is not None:
        wait = max(1, math.ceil((oldest + limit.window - now).total_seconds()))
    return AcmeProblem(
        "rateLimited",
        f"too many {limit.what}: {count} of {limit.limit}; retry after {wait} s",
        headers=(("Retry-After", str(wait)),),
    )
