"""Domain validation without ACME: `certkeeper validate NAME --method dns-change|http-token`.

The operator asks for a random value, places it (a TXT record, or a file on the web
site), and asks for the check. The check is the same one the ACME server runs, by the
same validation authority: primary perspective, remote corroboration (BR 3.2.2.9) as
configured, the evidence stored with the record. Records are made under
`OPERATOR_ACCOUNT`, the account `certkeeper issue` relies on.

- dns-change: BR 3.2.2.4.7 (DNS Change), the value in a TXT record at
  `_acme-challenge.<name>` (an Authorization Domain Name prefixed with an underscore
  label), checked exactly as dns-01 checks it. Validates wildcards too.
- http-token: BR 3.2.2.4.19 (Agreed-Upon Change to Website - ACME), the value served at
  `http://<name>/.well-known/acme-challenge/<token>`, checked exactly as http-01.

Each random value has 256 bits from `secrets` (BR 1.6.1 asks for 112), is usable for 30
days (BR 3.2.2.4) and once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from certkeeper import br
from certkeeper.errors import CertkeeperError, InputError
from certkeeper.store.operator_challenges import OperatorChallenge, OperatorChallengeStore
from certkeeper.validation import methods
from certkeeper.validation.authority import ValidationAuthority
from certkeeper.validation.challenges import key_authorization_digest
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.model import ChallengeAttempt, ValidationOutcome

# Not an ACME account URL, so a CAA `accounturi` parameter never matches it (RFC 8657 3).
OPERATOR_ACCOUNT = "urn:certkeeper:operator"
# The second half of the key authorization (RFC 8555 8.1 puts the account key's
# thumbprint there); the operator has no account key, so a fixed tag stands in for it.
OPERATOR_TAG = (
    base64.urlsafe_b64encode(hashlib.sha256(OPERATOR_ACCOUNT.encode()).digest())
    .rstrip(b"=")
    .decode()
)
TOKEN_BYTES = 32
assert TOKEN_BYTES * 8 >= br.RANDOM_VALUE_MIN_BITS

OPERATOR_METHODS = {"dns-change": "dns-01", "http-token": "http-01"}


class ValidationFailed(CertkeeperError):
    """The check did not find the random value (or was not corroborated)."""

    exit_code = 3


@dataclass(frozen=True)
class Instructions:
    """What the operator must publish, and until when the value may be used."""

    name: str
    method: str  # dns-change | http-token
    section: str  # BR 3.2.2.4.x
    where: str  # TXT owner name, or URL
    value: str  # TXT value, or HTTP body
    expires_at: datetime

    def line(self) -> str:
        if self.method == "dns-change":
            return f"{self.where} TXT {self.value}"
        return f"{self.where} {self.value}"


def split_name(name: str) -> tuple[str, bool]:
    """(fqdn, wildcard): `*.example.com` validates example.com with the wildcard flag."""
    name = name.strip().lower()
    if name.startswith("*."):
        return name[2:], True
    return name, False


class OperatorValidation:
    def __init__(
        self,
        va: ValidationAuthority,
        store: OperatorChallengeStore,
        account_uri: str = OPERATOR_ACCOUNT,
    ) -> None:
        self.va = va
        self.store = store
        self.account_uri = account_uri

    def _challenge_type(self, name: str, method: str, wildcard: bool) -> tuple[str, str]:
        if method not in OPERATOR_METHODS:
            raise InputError(f"--method {method!r}: use one of {', '.join(OPERATOR_METHODS)}")
        challenge_type = OPERATOR_METHODS[method]
        rule = methods.method_for_challenge(challenge_type, self.va.clock())
        if rule is None:
            raise InputError(f"--method {method}: no BR 3.2.2.4 method for it is in force today")
        if wildcard and not rule.wildcard:
            raise InputError(
                f"{name}: BR {rule.section} ({method}) cannot validate a wildcard name; "
                "use --method dns-change"
            )
        return challenge_type, rule.section

    def request(self, name: str, method: str) -> Instructions:
        """A random value for `name` by `method`: the pending one if there is one (so a
        repeated call does not invalidate a value already published), else a new one."""
        fqdn, wildcard = split_name(name)
        challenge_type, section = self._challenge_type(name, method, wildcard)
        try:
            self.va.preflight(fqdn, wildcard=wildcard)
        except RejectedIdentifier as exc:
            raise InputError(f"{name}: {exc.detail}") from None
        now = self.va.clock()
        pending = self.store.pending(fqdn, wildcard, challenge_type, now)
        if pending is None:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            pending = self.store.add(
                OperatorChallenge(
                    id=None,
                    fqdn=fqdn,
                    wildcard=wildcard,
                    challenge_type=challenge_type,
                    token=token,
                    key_authorization=f"{token}.{OPERATOR_TAG}",
                    created_at=now,
                    expires_at=now + timedelta(days=br.RANDOM_VALUE_MAX_DAYS),
                )
            )
        return _instructions(name, method, section, pending, self.va.settings.http_port)

    def check(self, name: str, method: str) -> ValidationOutcome:
        """Check the pending value now; on success the record is stored and the value used."""
        fqdn, wildcard = split_name(name)
        challenge_type, _ = self._challenge_type(name, method, wildcard)
        now = self.va.clock()
        pending = self.store.pending(fqdn, wildcard, challenge_type, now)
        if pending is None:
            raise InputError(
                f"{name}: no random value pending for --method {method} (none asked for, "
                f"used already, or older than {br.RANDOM_VALUE_MAX_DAYS} days); run "
                f"`certkeeper validate {name} --method {method}` first"
            )
        outcome = self.va.validate(
            ChallengeAttempt(
                identifier=fqdn,
                challenge_type=challenge_type,
                token=pending.token,
                key_authorization=pending.key_authorization,
                account_uri=self.account_uri,
                wildcard=wildcard,
            )
        )
        if not outcome.valid:
            raise ValidationFailed(
                f"{name} not validated ({outcome.problem_type or 'unauthorized'}): {outcome.detail}"
            )
        assert pending.id is not None
        self.store.mark_used(pending.id, self.va.clock())
        return outcome


def _instructions(
    name: str, method: str, section: str, pending: OperatorChallenge, http_port: int
) -> Instructions:
    if pending.challenge_type == "dns-01":
        return Instructions(
            name,
            method,
            section,
            f"_acme-challenge.{pending.fqdn}",
            key_authorization_digest(pending.key_authorization),
            pending.expires_at,
        )
    port = "" if http_port == 80 else f":{http_port}"
    return Instructions(
        name,
        method,
        section,
        f"http://{pending.fqdn}{port}/.well-known/acme-challenge/{pending.token}",
        pending.key_authorization,
        pending.expires_at,
    )
