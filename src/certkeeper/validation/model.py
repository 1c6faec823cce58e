"""Values passed between the ACME server, the validation authority and remote perspectives.

Pure data, serialisable to JSON, so a remote perspective receives exactly what the primary
checks and the stored validation record holds exactly what was decided.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")


@dataclass(frozen=True)
class ChallengeAttempt:
    """One challenge to check for one FQDN on behalf of one ACME account."""

    identifier: str  # FQDN, lower-case A-labels, without any "*." prefix
    challenge_type: str  # one of CHALLENGE_TYPES
    token: str
    key_authorization: str  # token "." base64url(JWK thumbprint), RFC 8555 8.1
    account_uri: str
    wildcard: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChallengeAttempt:
        return cls(
            identifier=str(data["identifier"]),
            challenge_type=str(data["challenge_type"]),
            token=str(data["token"]),
            key_authorization=str(data["key_authorization"]),
            account_uri=str(data["account_uri"]),
            wildcard=bool(data.get("wildcard", False)),
        )


@dataclass(frozen=True)
class CheckResult:
    """What one network perspective saw for a challenge.

    `problem_type` is the RFC 8555 error type suffix when not ok ("connection", "dns",
    "incorrectResponse", "unauthorized", "tls", "rejectedIdentifier", ...).
    """

    ok: bool
    detail: str
    problem_type: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    dnssec: str | None = None  # "secure" when every DNS answer validated, else "insecure"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            ok=bool(data["ok"]),
            detail=str(data["detail"]),
            problem_type=data.get("problem_type"),
            evidence=dict(data.get("evidence") or {}),
            dnssec=data.get("dnssec"),
        )


@dataclass(frozen=True)
class CaaResult:
    """The CAA decision for one FQDN (RFC 8659). A lookup failure is never "allowed"."""

    allowed: bool
    detail: str
    problem_type: str | None = None  # "caa" when forbidden, "dns" when the lookup failed
    evidence: dict[str, Any] = field(default_factory=dict)  # relevant RRset, where found
    dnssec: str | None = None  # "secure" when every CAA answer validated, else "insecure"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaaResult:
        return cls(
            allowed=bool(data["allowed"]),
            detail=str(data["detail"]),
            problem_type=data.get("problem_type"),
            evidence=dict(data.get("evidence") or {}),
            dnssec=data.get("dnssec"),
        )


@dataclass(frozen=True)
class PerspectiveResult:
    """One remote perspective's independent answer (a challenge check or a CAA lookup)."""

    perspective: str  # configured name
    region: str  # RIR region label (BR 3.2.2.9 asks for distinct regions)
    ok: bool
    detail: str
    seconds: float
    # "corroborated"; "disagreed" (it checked and reached another answer); "unreachable"
    # (no usable answer: connection, TLS, timeout, HTTP error): a transport failure is
    # never a finding about the domain
    outcome: str = ""
    problem_type: str | None = None  # the perspective's own problem type, when it checked

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Corroboration:
    """The BR 3.2.2.9 quorum decision over the remote perspectives."""

    results: tuple[PerspectiveResult, ...]
    required: int  # corroborating remote perspectives needed
    passed: bool
    detail: str = ""  # why it passed or failed, in one line

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [r.to_json() for r in self.results],
            "required": self.required,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ValidationOutcome:
    """The validation authority's final answer for a challenge."""

    valid: bool
    detail: str
    problem_type: str | None = None
    record_id: int | None = None  # the stored domain validation record when valid
    corroboration: Corroboration | None = None
