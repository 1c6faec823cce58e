"""RFC 7807 problem documents with the ACME error namespace (RFC 8555 6.7).

Every refusal the ACME server makes is an `AcmeProblem` raised where the decision is
taken and rendered once, at the edge, as `application/problem+json`; so no code path
answers a client with a traceback or a bare status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from certkeeper.validation.ip_identifiers import is_ip

ACME_ERROR = "urn:ietf:params:acme:error:"
PROBLEM_TYPE = "application/problem+json"

# The HTTP status each ACME error type is sent with unless the raiser says otherwise.
DEFAULT_STATUS: dict[str, int] = {
    "accountDoesNotExist": 400,
    "alreadyReplaced": 409,
    "alreadyRevoked": 400,
    "badCSR": 400,
    "badNonce": 400,
    "badPublicKey": 400,
    "badRevocationReason": 400,
    "badSignatureAlgorithm": 400,
    "caa": 403,
    "compound": 403,
    "connection": 400,
    "dns": 400,
    "externalAccountRequired": 400,
    "incorrectResponse": 403,
    "invalidContact": 400,
    "malformed": 400,
    "orderNotReady": 403,
    "rateLimited": 429,
    "rejectedIdentifier": 400,
    "serverInternal": 500,
    "tls": 400,
    "unauthorized": 403,
    "unsupportedContact": 400,
    "unsupportedIdentifier": 400,
    "userActionRequired": 403,
}


def identifier_json(name: str) -> dict[str, str]:
    """RFC 8555 7.1.4 / RFC 8738 3: an identifier object; a name that is an IP address is
    of type ip (names travel as text: validation/ip_identifiers.py)."""
    return {"type": "ip" if is_ip(name) else "dns", "value": name}


@dataclass(frozen=True)
class Subproblem:
    """One identifier's own problem inside a compound refusal (RFC 8555 6.7.1)."""

    type: str
    detail: str
    identifier: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": ACME_ERROR + self.type,
            "detail": self.detail,
            "identifier": identifier_json(self.identifier),
        }


class AcmeProblem(Exception):
    """A refusal: `type` is the ACME error name without its URN prefix."""

    def __init__(
        self,
        type: str,
        detail: str,
        *,
        status: int | None = None,
        subproblems: tuple[Subproblem, ...] = (),
        headers: tuple[tuple[str, str], ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.type = type
        self.detail = detail
        self.status = status if status is not None else DEFAULT_STATUS.get(type, 400)
        self.subproblems = subproblems
        self.headers = headers
        self.extra = extra or {}

    def to_json(self) -> dict[str, Any]:
        return problem_json(self.type, self.detail, self.status, self.subproblems, self.extra)

    def body(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode()


@dataclass(frozen=True)
class StoredError:
    """A problem kept on an order, authorization or challenge (as JSON in the store)."""

    type: str
    detail: str
    status: int
    subproblems: tuple[Subproblem, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return problem_json(self.type, self.detail, self.status, self.subproblems, {})

    @classmethod
    def of(cls, problem: AcmeProblem) -> StoredError:
        return cls(problem.type, problem.detail, problem.status, problem.subproblems)


def problem_json(
    type: str,
    detail: str,
    status: int,
    subproblems: tuple[Subproblem, ...],
    extra: dict[str, Any],
) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": ACME_ERROR + type, "detail": detail, "status": status}
    if subproblems:
        doc["subproblems"] = [s.to_json() for s in subproblems]
    doc.update(extra)
    return doc
