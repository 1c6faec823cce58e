"""Checks on an identifier before any challenge is offered (seed 002), and on the IP
address identifiers of RFC 8738.

A name under a TLD that is not delegated in the root zone, a public suffix, or an
internal name can never be validated: nobody can prove control of it, so no challenge is
offered and no validation record can exist. The same rules as the certificate linter
(`lint/names.py`), applied at the moment of validation rather than at notBefore.
"""

from __future__ import annotations

from datetime import UTC, datetime

from certkeeper.lint.names import dns_name_syntax_problems, registry_problems
from certkeeper.lint.tld import TldData
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.ip_identifiers import canonical, parse_ip, reserved_problem

MAX_NAME = 253


def check_identifier(
    identifier: str,
    *,
    wildcard: bool,
    at: datetime,
    tld: TldData | None = None,
    private_addresses: bool = False,
) -> str:
    """The normalised FQDN (lower case, no "*.") or canonical IP address, or
    RejectedIdentifier naming the problem.

    `identifier` is the ACME identifier value: "*.example.com" for a wildcard (then
    `wildcard` must be true), else the FQDN or IP address itself. An IP address must not
    be reserved (BR 7.1.2.7.12) unless `private_addresses` (tests) allows loopback and
    private ones; whether a profile takes IP addresses at all is the caller's question."""
    if not isinstance(identifier, str) or not identifier:
        raise RejectedIdentifier("identifier is empty")
    ip = parse_ip(identifier.removeprefix("*."))
    if ip is not None:
        if wildcard or identifier.startswith("*."):
            raise RejectedIdentifier(f"{identifier!r}: an IP address has no wildcard form")
        problem = reserved_problem(ip, private_allowed=private_addresses)
        if problem is not None:
            raise RejectedIdentifier(
                f"IP address {identifier} cannot be certified: {problem} (BR 7.1.2.7.12)"
            )
        return canonical(ip)
    name = identifier
    if name.startswith("*."):
        if not wildcard:
            raise RejectedIdentifier(f"{identifier!r}: a wildcard identifier must be flagged so")
        name = name[2:]
    if "*" in name:
        raise RejectedIdentifier(
            f"{identifier!r}: a wildcard may only be the whole leftmost label, as '*.'"
        )
    if not name.isascii():
        raise RejectedIdentifier(f"{identifier!r} is not ASCII: use the xn-- A-label form")
    if name.endswith("."):
        raise RejectedIdentifier(f"{identifier!r} ends with a dot")
    name = name.lower()
    problems = dns_name_syntax_problems(name)
    if problems:
        detail = problems[0][1].replace("dNSName", "identifier", 1)
        raise RejectedIdentifier(detail)
    if len(name) + (2 if wildcard else 0) > MAX_NAME:
        raise RejectedIdentifier(f"{identifier!r} is longer than {MAX_NAME} characters")
    if name.split(".")[-1] == "onion":
        raise RejectedIdentifier(f"{identifier!r}: onion names are not validated by this CA")
    data = tld if tld is not None else TldData.default()
    checked = f"*.{name}" if wildcard else name
    registry = registry_problems(checked, at.astimezone(UTC).date(), data)
    if registry:
        raise RejectedIdentifier(registry[0][1].replace("dNSName", "identifier", 1))
    return name
