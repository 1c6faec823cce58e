"""The composition root: where the CA of one home is assembled, once.

`build(home)` returns a `Ca`: the home's stores, issuer keys, profiles and clock, and
every service built from them on first use and then reused. Commands, the HTTP servers,
batch workers and benchmarks take their services from it; no other module constructs a
service. Services take the stores, settings and keys they touch, never the home.

The issuance service is assembled with its safety hooks here, for every path (the
CLI, single and batch; the ACME server; library users), so no path can leave a hook
out: the name authorizer (domain validation record and CAA at issuance; none only in a
non-public home), the key checker (blocked and weak keys, BR 6.1.1.3) and the SCT
source (CT logs of the home's `[ct]` log list, docs/ct.md: a public home without one
cannot issue at all; only a non-public home may go without SCTs). A new hook is one
field of `SafetyHooks`, one line in `safety_hooks`, and one required argument of
IssuanceService.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from certkeeper.ca.home import CaHome
from certkeeper.ct.compliance import require_log_list
from certkeeper.issuance.keycheck import SubscriberKeyChecker
from certkeeper.issuance.service import (
    IssuanceService,
    NameAuthorizer,
    NonPublicHierarchy,
    SctSource,
    Step,
    check_hierarchy,
    no_scts,
)
from certkeeper.lint.gate import LintGate
from certkeeper.store.blocked_keys import BlockedKeyStore
from certkeeper.validation.operator import (  # records of `certkeeper validate`
    OPERATOR_ACCOUNT,
    OperatorValidation,
)

if TYPE_CHECKING:
    from pathlib import Path

    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.config import Config
    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.store.stores import Stores
    from certkeeper.validation.authority import ValidationAuthority


def utc_now() -> datetime:
    return datetime.now(UTC)


class NameAuthorities(Protocol):
    """What hands out name authorizers: the validation authority, or a test's stand-in."""

    def authorizer(self, account_uri: str) -> NameAuthorizer: ...


@dataclass(frozen=True)
class SafetyHooks:
    names: NameAuthorizer
    keys: SubscriberKeyChecker
    scts: SctSource


def sct_source(home: CaHome) -> SctSource:
    """SCTs from the CT logs of the home's log list (read and checked now); none only in
    a non-public home without a list."""
    settings = home.config.ct
    if not settings.enabled:
        if home.config.public:
            require_log_list(settings, home.config.home)
        return no_scts
    from certkeeper.ct.source import inventory_chain
    from certkeeper.ct.source import sct_source as ct_sct_source

    return ct_sct_source(settings, inventory_chain(lambda: home.inventory.issuers()))


def blocked_keys(home: CaHome) -> BlockedKeyStore:
    return home.stores.blocked_keys


def key_checker(home: CaHome) -> SubscriberKeyChecker:
    return SubscriberKeyChecker(blocked_keys(home))


def validation_authority(
    home: CaHome, clock: Callable[[], datetime] = utc_now
) -> ValidationAuthority:
    from certkeeper.validation.authority import ValidationAuthority

    return ValidationAuthority(home, clock=clock)


def operator_validation(
    home: CaHome, clock: Callable[[], datetime] = utc_now
) -> OperatorValidation:
    """`certkeeper validate`: records under OPERATOR_ACCOUNT, which `issue` relies on."""

    va = validation_authority(home, clock)
    return OperatorValidation(va, home.stores.operator_challenges)


def safety_hooks(
    home: CaHome,
    *,
    account_uri: str = OPERATOR_ACCOUNT,
    validator: NameAuthorities | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> SafetyHooks:
    """The hooks for one caller: names authorized for `account_uri` (public homes only)."""
    names: NameAuthorizer
    if home.config.public:
        va = validator if validator is not None else validation_authority(home, clock)
        names = va.authorizer(account_uri)
    else:
        names = NonPublicHierarchy()
    check_hierarchy(home, names)  # a home that changed sides is told so before anything else
    return SafetyHooks(names=names, keys=key_checker(home), scts=sct_source(home))


def issuance_service(
    home: CaHome,
    *,
    account_uri: str = OPERATOR_ACCOUNT,
    validator: NameAuthorities | None = None,
    gate: LintGate | None = None,
    clock: Callable[[], datetime] = utc_now,
    on_step: Step | None = None,
) -> IssuanceService:
    """The issuance service every path uses, with every safety hook in place."""
    hooks = safety_hooks(home, account_uri=account_uri, validator=validator, clock=clock)
    return IssuanceService(
        home,
        name_authorizer=hooks.names,
        key_checker=hooks.keys,
        sct_source=hooks.scts,
        gate=gate,
        clock=clock,
        on_step=on_step,
    )


class Ca:
    """The CA of one home, assembled once: every service is built on first use from the
    home's parts and then shared by everything the process does."""

    def __init__(self, home: CaHome, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._home = home
        self.clock = clock
        self._issuance: dict[str, IssuanceService] = {}

    # -- the parts ------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._home.config

    @property
    def stores(self) -> Stores:
        return self._home.stores

    @property
    def issuers(self) -> IssuerKeys:
        return self._home

    @property
    def profiles(self) -> ProfileRegistry:
        return self._home.profiles

    # -- the services ---------------------------------------------------------------------

    @cached_property
    def key_checker(self) -> SubscriberKeyChecker:
        return key_checker(self._home)

    @cached_property
    def sct_source(self) -> SctSource:
        return sct_source(self._home)

    @cached_property
    def validation(self) -> ValidationAuthority:
        return validation_authority(self._home, self.clock)

    @cached_property
    def operator_validation(self) -> OperatorValidation:
        return OperatorValidation(self.validation, self.stores.operator_challenges)

    def issuance(self, account_uri: str = OPERATOR_ACCOUNT) -> IssuanceService:
        """The issuance service for names authorized to `account_uri`, built once per
        account and then reused."""
        got = self._issuance.get(account_uri)
        if got is None:
            got = issuance_service(
                self._home, account_uri=account_uri, validator=self.validation, clock=self.clock
            )
            self._issuance[account_uri] = got
        return got

    def close(self) -> None:
        self._home.close()


def build(home: CaHome | Path, *, clock: Callable[[], datetime] = utc_now) -> Ca:
    """The CA of `home` (an opened home or its directory), assembled."""
    return Ca(home if isinstance(home, CaHome) else CaHome.open(home), clock=clock)
