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

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from certkeeper.ca.home import CaHome
from certkeeper.config import Config
from certkeeper.ct.compliance import require_log_list
from certkeeper.issuance.keycheck import SubscriberKeyChecker
from certkeeper.issuance.service import (
    IssuanceService,
    KeyChecker,
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

    from certkeeper.audit.cps_check import CpsChecker
    from certkeeper.audit.relint import Relinter
    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.report.build import ReportBuilder
    from certkeeper.revocation.incidents import IncidentService
    from certkeeper.revocation.notify import IncidentNotifier
    from certkeeper.revocation.publishing import Republisher
    from certkeeper.revocation.service import RevocationService
    from certkeeper.settings.crl import CrlSettings
    from certkeeper.settings.notify import NotifySettings
    from certkeeper.status.crl import CrlPublisher, ShardPublisher
    from certkeeper.status.ocsp import OcspService, OcspSigner
    from certkeeper.store.inventory import Inventory
    from certkeeper.store.stores import Stores
    from certkeeper.validation.authority import ValidationAuthority
    from certkeeper.validation.mpic import RemotePerspectives


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
    home: CaHome,
    clock: Callable[[], datetime] = utc_now,
    *,
    perspectives: RemotePerspectives | None = None,
) -> ValidationAuthority:
    from certkeeper.validation.authority import ValidationAuthority

    return ValidationAuthority(
        home.config.validation,
        home.stores.validations,
        home,
        clock=clock,
        perspectives=perspectives,
    )


_OCSP_SIGNERS: weakref.WeakKeyDictionary[CaHome, OcspSigner] = weakref.WeakKeyDictionary()


def ocsp_signer(home: CaHome) -> OcspSigner:
    """The home's OCSP signer, created once per home and shared by issuance and
    revocation: it caches each issuer's template and key and the response shapes that
    passed every lint."""
    signer = _OCSP_SIGNERS.get(home)
    if signer is None:
        signer = new_ocsp_signer(home.inventory, home, home.config)
        _OCSP_SIGNERS[home] = signer
    return signer


def new_ocsp_signer(
    inventory: Inventory, issuers: IssuerKeys, config: Config, lint_every: int = 1
) -> OcspSigner:
    """The one construction of OcspSigner: the issuers' certificates and keys, both
    linters as configured, and 1 in `lint_every` responses linted once a response shape
    passed in full."""
    from certkeeper.status.ocsp import OcspSigner

    return OcspSigner(inventory, issuers, pkilint=config.use_pkilint, lint_every=lint_every)


def crl_settings(config: Config) -> CrlSettings:
    """What the CRL publisher reads of the configuration."""
    from certkeeper.settings.crl import CrlSettings

    return CrlSettings(
        home=config.home,
        base_url=config.base_url,
        shards=config.crl_shards,
        budget_bytes=config.crl_budget_bytes,
        dir=config.crl_dir,
        shard_validity=config.crl_shard_validity,
        ca_validity=config.crl_ca_validity,
        lookback=config.crl_lookback,
    )


def notify_settings(config: Config) -> NotifySettings:
    """What the subscriber notifier reads of the configuration."""
    from certkeeper.settings.notify import NotifySettings

    return NotifySettings(
        smtp_host=config.smtp_host,
        smtp_port=config.smtp_port,
        smtp_tls=config.smtp_tls,
        smtp_username=config.smtp_username,
        smtp_password_file=config.smtp_password_file,
        mail_from=config.mail_from,
        notify_attempts=config.notify_attempts,
        notify_retry_minutes=config.notify_retry_minutes,
    )


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
    # a home that changed sides is told so before anything else
    check_hierarchy(home.config, home.stores.hierarchy, names)
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
    return issuance_service_with(
        home,
        name_authorizer=hooks.names,
        key_checker=hooks.keys,
        sct_source=hooks.scts,
        gate=gate,
        clock=clock,
        on_step=on_step,
    )


def issuance_service_with(
    home: CaHome,
    *,
    name_authorizer: NameAuthorizer,
    key_checker: KeyChecker,
    sct_source: SctSource,
    gate: LintGate | None = None,
    clock: Callable[[], datetime] = utc_now,
    on_step: Step | None = None,
) -> IssuanceService:
    """The issuance service over `home`'s parts with the hooks given (all required; a
    public home still refuses `NonPublicHierarchy` and checks SCTs itself)."""
    return Ca(home, clock=clock).issuance_with(
        name_authorizer=name_authorizer,
        key_checker=key_checker,
        sct_source=sct_source,
        gate=gate,
        on_step=on_step,
    )


class Ca:
    """The CA of one home, assembled once: every service is built on first use from the
    home's parts and then shared by everything the process does."""

    def __init__(self, home: CaHome, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._home = home
        self.clock = clock

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

    def check_ct(self) -> None:
        """Raise now if the home's CT log list is missing (public home) or unusable."""
        self.sct_source  # noqa: B018 (reading it builds the source, which checks the list)

    @cached_property
    def validation(self) -> ValidationAuthority:
        return validation_authority(self._home, self.clock)

    @cached_property
    def operator_validation(self) -> OperatorValidation:
        return OperatorValidation(self.validation, self.stores.operator_challenges)

    @property
    def ocsp_signer(self) -> OcspSigner:
        """The home's OCSP signer (one per home, see `ocsp_signer`)."""
        return ocsp_signer(self._home)

    @cached_property
    def ocsp(self) -> OcspService:
        from certkeeper.status.ocsp import OcspService

        return OcspService(self.stores.ocsp, self.ocsp_signer, self.clock)

    @cached_property
    def crl(self) -> CrlPublisher:
        from certkeeper.status.crl import CrlPublisher

        stores = self.stores
        return CrlPublisher(
            stores.crl,
            stores.inventory,
            self.issuers,
            crl_settings(self.config),
            worker_publisher=worker_crl_publisher,
        )

    def revoked_signer(self, lint_every: int = 1) -> OcspSigner:
        """A new OCSP signer for "revoked" responses, linting 1 in `lint_every` after
        each response shape passed in full (one per process that signs them)."""
        return new_ocsp_signer(self.stores.inventory, self.issuers, self.config, lint_every)

    @cached_property
    def republisher(self) -> Republisher:
        from certkeeper.revocation.publishing import Republisher

        return Republisher(self.crl.publish_shards, self.config.crl_dir)

    @cached_property
    def revocation(self) -> RevocationService:
        from certkeeper.revocation.service import RevocationService

        return RevocationService(self.stores, self.ocsp.resign_on_revocation, self)

    @cached_property
    def incidents(self) -> IncidentService:
        from certkeeper.revocation.incidents import IncidentService

        return IncidentService(
            self.stores,
            self.config,
            self.crl.shard_framings,
            self.revoked_signer,
            self,
            self.clock,
            worker_signer=worker_revoked_signer,
        )

    @cached_property
    def notifier(self) -> IncidentNotifier:
        from certkeeper.revocation.notify import IncidentNotifier

        stores = self.stores
        return IncidentNotifier(
            stores.incidents, stores.inventory, notify_settings(self.config), self, self.clock
        )

    @cached_property
    def reports(self) -> ReportBuilder:
        from certkeeper.report.build import ReportBuilder

        config = self.config
        return ReportBuilder(
            self.stores, config.ct, config.crl_budget_bytes, self.incidents, self.crl.status
        )

    @cached_property
    def relinter(self) -> Relinter:
        from certkeeper.audit.relint import Relinter

        return Relinter(self.stores, self.config, self.clock, worker_ca=build)

    @cached_property
    def cps_checker(self) -> CpsChecker:
        from certkeeper.audit.cps_check import CpsChecker

        return CpsChecker(self.stores.inventory, self.profiles, self.config.cps_version)

    @cached_property
    def gate(self) -> LintGate:
        """Both linters, loaded once per process and shared by every issuance."""
        return LintGate(self.config.use_pkilint)

    def issuance(
        self, account_uri: str = OPERATOR_ACCOUNT, *, on_step: Step | None = None
    ) -> IssuanceService:
        """The issuance service for names authorized to `account_uri` (cheap: the
        linters, key checker, SCT source and OCSP signer are this CA's, built once)."""
        names: NameAuthorizer
        if self.config.public:
            names = self.validation.authorizer(account_uri)
        else:
            names = NonPublicHierarchy()
        # a home that changed sides is told so before anything else (the CT log list)
        check_hierarchy(self.config, self.stores.hierarchy, names)
        return self.issuance_with(
            name_authorizer=names,
            key_checker=self.key_checker,
            sct_source=self.sct_source,
            gate=self.gate,
            on_step=on_step,
        )

    def issuance_with(
        self,
        *,
        name_authorizer: NameAuthorizer,
        key_checker: KeyChecker,
        sct_source: SctSource,
        gate: LintGate | None = None,
        on_step: Step | None = None,
    ) -> IssuanceService:
        """The one construction of IssuanceService: this CA's parts, the hooks given."""
        return IssuanceService(
            config=self.config,
            stores=self.stores,
            issuers=self.issuers,
            profiles=self.profiles,
            status_signer=self.ocsp_signer,
            audit=self,
            name_authorizer=name_authorizer,
            key_checker=key_checker,
            sct_source=sct_source,
            gate=gate,
            clock=self.clock,
            on_step=on_step,
        )

    def close(self) -> None:
        self._home.close()


def build(home: CaHome | Config | Path, *, clock: Callable[[], datetime] = utc_now) -> Ca:
    """The CA of `home` (an opened home, its configuration or its directory), assembled."""
    if isinstance(home, CaHome):
        return Ca(home, clock=clock)
    if isinstance(home, Config):
        return Ca(CaHome(home), clock=clock)
    return Ca(CaHome.open(home), clock=clock)


# -- worker processes ------------------------------------------------------------------
# A pool's worker builds its own CA once, in its initializer: no engine, connection or key
# crosses a fork or a spawn. Services are handed these functions (a spawned process
# receives them by name) rather than importing this module, which imports them.


def worker_crl_publisher(home: Path) -> ShardPublisher:
    """A CRL publishing worker's publisher, from its own CA."""
    return build(home).crl.shard_publisher()


def worker_revoked_signer(config: Config, lint_every: int) -> OcspSigner:
    """A revocation campaign worker's "revoked" signer, from its own CA."""
    return build(config).revoked_signer(lint_every)
