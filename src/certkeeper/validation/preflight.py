"""Checks on an identifier before any challenge is offered (seed 002).

A name under a TLD that is not delegated in the root zone, a public suffix, or an
internal name can never be validated: nobody can prove control of it, so no challenge is
offered and no validation record can exist. The same rules as the certificate linter
(`lint/names.py`), applied at the moment of validation rather than at notBefore.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from certkeeper.lint.names import dns_name_syntax_problems, registry_problems
from certkeeper.lint.tld import TldData
from certkeeper.validation.errors import RejectedIdentifier

MAX_NAME = 253


def check_identifier(
    identifier: str, *, wildcard: bool, at: datetime, tld: TldData | None = None
) -> str:
    """The normalised FQDN (lower case, no "*."), or RejectedIdentifier naming the problem.

    `identifier` is the ACME identifier value: "*.example.com" for a wildcard (then
    `wildcard` must be true), else the FQDN itself."""
    if not isinstance(identifier, str) or not identifier:
        raise RejectedIdentifier("identifier is empty")
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
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise RejectedIdentifier(f"{identifier!r}: IP address identifiers are not supported")
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
