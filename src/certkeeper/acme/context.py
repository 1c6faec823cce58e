"""What every ACME endpoint works with: the request, the response, the URLs, the services.

Endpoints are plain synchronous functions `(Acme, Request) -> Response` that raise
`AcmeProblem` to refuse; the ASGI shell runs them in worker threads and renders.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from certkeeper.acme.nonces import NonceService
from certkeeper.acme.outage import DatabaseOutage
from certkeeper.acme.problems import AcmeProblem
from certkeeper.acme.ratelimits import RateLimiter
from certkeeper.settings.acme import AcmeSettings
from certkeeper.store.database import ping
from certkeeper.validation.model import ChallengeAttempt, ValidationOutcome

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.config import Config
    from certkeeper.issuance.keycheck import SubscriberKeyChecker
    from certkeeper.issuance.service import IssuanceService, NameAuthorizer
    from certkeeper.lint.gate import LintGate
    from certkeeper.revocation.publishing import Republisher
    from certkeeper.revocation.service import RevocationService
    from certkeeper.store.stores import Stores

log = logging.getLogger("certkeeper.acme")

PREFIX = "/acme"
_ACCOUNT_ID = re.compile("[1-9][0-9]{0,17}")  # ASCII digits, no leading zero
JSON_TYPE = "application/json"
JOSE_TYPE = "application/jose+json"
PEM_CHAIN_TYPE = "application/pem-certificate-chain"


class Validator(Protocol):
    """The validation authority as the ACME server uses it
    (`certkeeper.validation.authority.ValidationAuthority`)."""

    def preflight(self, identifier: str, *, wildcard: bool) -> None: ...

    def offered_challenges(self, identifier: str, *, wildcard: bool) -> list[str]: ...

    def validate(self, attempt: ChallengeAttempt) -> ValidationOutcome: ...

    def reusable(self, identifier: str, account_uri: str, *, wildcard: bool) -> int | None: ...

    def authorizer(self, account_uri: str) -> NameAuthorizer: ...


class AcmeCa(Protocol):
    """What the ACME server uses of its CA (a `wiring.Ca`, built by the server worker):
    the stores, settings and clock, the profiles and lint gate, and the services an
    endpoint calls."""

    @property
    def config(self) -> Config: ...

    @property
    def stores(self) -> Stores: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def profiles(self) -> ProfileRegistry: ...

    @property
    def gate(self) -> LintGate: ...

    @property
    def validation(self) -> Validator: ...

    @property
    def key_checker(self) -> SubscriberKeyChecker: ...

    @property
    def revocation(self) -> RevocationService: ...

    @property
    def republisher(self) -> Republisher: ...

    def issuance(self, account_uri: str) -> IssuanceService: ...


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below PREFIX, e.g. "/new-order"
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host[:port] the client used (or the configured one)
    client_ip: str | None = None

    def url(self) -> str:
        return self.base_url + PREFIX + self.path


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, doc: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
        return cls(status, json.dumps(doc, indent=2).encode(), JSON_TYPE, list(headers))


@dataclass(frozen=True)
class Urls:
    """Every ACME URL, from one base (RFC 8555 7.1)."""

    base: str

    @property
    def root(self) -> str:
        return self.base + PREFIX

    def directory(self) -> str:
        return self.root + "/directory"

    def new_nonce(self) -> str:
        return self.root + "/new-nonce"

    def new_account(self) -> str:
        return self.root + "/new-account"

    def new_order(self) -> str:
        return self.root + "/new-order"

    def revoke_cert(self) -> str:
        return self.root + "/revoke-cert"

    def key_change(self) -> str:
        return self.root + "/key-change"

    def renewal_info(self) -> str:
        return self.root + "/renewal-info"

    def account(self, account_id: int) -> str:
        return f"{self.root}/acct/{account_id}"

    def account_orders(self, account_id: int) -> str:
        return f"{self.root}/acct/{account_id}/orders"

    def order(self, order_id: int) -> str:
        return f"{self.root}/order/{order_id}"

    def finalize(self, order_id: int) -> str:
        return f"{self.root}/order/{order_id}/finalize"

    def authz(self, authz_id: int) -> str:
        return f"{self.root}/authz/{authz_id}"

    def challenge(self, challenge_id: int) -> str:
        return f"{self.root}/chall/{challenge_id}"

    def certificate(self, serial: str) -> str:
        return f"{self.root}/cert/{serial}"

    def account_id(self, url: str) -> int | None:
        """The account id of an account URL of this server, else None. Only the URL as
        the server writes it names an account: "/acct/02" or "/acct/\u0661" (other
        scripts' digits, which int() accepts) are refused as malformed, not aliases."""
        prefix = self.root + "/acct/"
        if not url.startswith(prefix):
            return None
        rest = url[len(prefix) :]
        if not _ACCOUNT_ID.fullmatch(rest):
            raise AcmeProblem("malformed", f"{url[:200]!r} is not an account URL of this server")
        return int(rest)


class Acme:
    """The services the endpoints share; one per process (the state is in the database)."""

    def __init__(self, ca: AcmeCa, *, validation_workers: int = 16) -> None:
        self.ca = ca
        self.settings: AcmeSettings = ca.config.acme
        self.validator: Validator = ca.validation
        self.clock = ca.clock
        self.store = ca.stores.acme
        self.outage = DatabaseOutage(lambda: ping(ca.stores.engine))
        self.nonces = NonceService(self.store, self.settings.nonce_lifetime_seconds, ca.clock)
        self.limits = RateLimiter(self.store, self.settings, ca.clock)
        # One lint gate per process: both linters are loaded once, not per finalize.
        self.gate = ca.gate
        self.validations = ThreadPoolExecutor(
            max_workers=validation_workers, thread_name_prefix="acme-validation"
        )

    def urls(self, request: Request) -> Urls:
        return Urls(self.settings.base_url or request.base_url)

    def close(self) -> None:
        self.validations.shutdown(wait=True, cancel_futures=False)
