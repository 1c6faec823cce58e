"""Strict reading of the JSON bodies a remote perspective accepts.

A remote perspective acts on what the primary sends it, so every field is checked for
type and shape before any DNS query or connection is made; a surprise key is an error,
not something to ignore, because it means the two sides disagree about the protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from certkeeper.validation.model import CHALLENGE_TYPES, ChallengeAttempt

MAX_BODY_BYTES = 16 * 1024
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class BadRequest(ValueError):
    """The body is not what the protocol says; the message names the field."""


@dataclass(frozen=True)
class CaaQuery:
    """One CAA lookup the primary asks a remote perspective to repeat."""

    fqdn: str
    wildcard: bool
    account_uri: str
    method: str
    caa_identities: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "fqdn": self.fqdn,
            "wildcard": self.wildcard,
            "account_uri": self.account_uri,
            "method": self.method,
            "caa_identities": list(self.caa_identities),
        }


def parse_attempt(data: Any) -> ChallengeAttempt:
    obj = _object(
        data,
        required=("identifier", "challenge_type", "token", "key_authorization", "account_uri"),
        optional=("wildcard",),
    )
    identifier = _fqdn(obj, "identifier")
    challenge_type = _choice(obj, "challenge_type")
    token = _str(obj, "token", 256)
    if len(token) < 16 or not _B64URL.match(token):
        raise BadRequest("token: expected at least 16 base64url characters")
    key_authorization = _str(obj, "key_authorization", 512)
    prefix, dot, thumbprint = key_authorization.partition(".")
    if prefix != token or not dot or not _B64URL.match(thumbprint):
        raise BadRequest("key_authorization: expected the token, '.', a base64url thumbprint")
    account_uri = _account_uri(obj)
    wildcard = _bool(obj, "wildcard", default=False)
    if wildcard and challenge_type != "dns-01":
        raise BadRequest(f"wildcard: a wildcard name cannot be validated with {challenge_type}")
    return ChallengeAttempt(
        identifier=identifier,
        challenge_type=challenge_type,
        token=token,
        key_authorization=key_authorization,
        account_uri=account_uri,
        wildcard=wildcard,
    )


def parse_caa_query(data: Any) -> CaaQuery:
    obj = _object(
        data,
        required=("fqdn", "wildcard", "account_uri", "method", "caa_identities"),
        optional=(),
    )
    identities = obj["caa_identities"]
    if (
        not isinstance(identities, list)
        or len(identities) > 16
        or not all(isinstance(i, str) and 0 < len(i) <= 253 for i in identities)
    ):
        # Empty is allowed: the primary then treats any CAA record as forbidding it, and a
        # perspective must reach the same decision from the same identities.
        raise BadRequest("caa_identities: expected a list of up to 16 domain names")
    return CaaQuery(
        fqdn=_fqdn(obj, "fqdn"),
        wildcard=_bool(obj, "wildcard", default=False),
        account_uri=_account_uri(obj),
        method=_choice(obj, "method"),
        caa_identities=tuple(i.lower() for i in identities),
    )


def _object(data: Any, *, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    missing = [key for key in required if key not in data]
    if missing:
        raise BadRequest(f"missing field {missing[0]!r}")
    return data


def _str(obj: dict[str, Any], key: str, limit: int) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key}: expected a non-empty string")
    if len(value) > limit:
        raise BadRequest(f"{key}: longer than {limit} characters")
    return value


def _bool(obj: dict[str, Any], key: str, *, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{key}: expected true or false")
    return value


def _choice(obj: dict[str, Any], key: str) -> str:
    value = _str(obj, key, 32)
    if value not in CHALLENGE_TYPES:
        raise BadRequest(f"{key}: {value!r} is not one of {', '.join(CHALLENGE_TYPES)}")
    return value


def _fqdn(obj: dict[str, Any], key: str) -> str:
    """Lower-case A-labels only: the primary has already normalised the name."""
    value = _str(obj, key, 253)
    labels = value.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise BadRequest(f"{key}: {value!r} is not a lower-case fully-qualified domain name")
    return value


def _account_uri(obj: dict[str, Any]) -> str:
    value = _str(obj, "account_uri", 2048)
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise BadRequest("account_uri: expected an http(s) URL")
    return value
