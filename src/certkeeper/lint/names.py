"""DNS name and IP address rules for subjectAltName (BR 7.1.2.7.12, RFC 5280 4.2.1.6).

Each check returns (kind, message) pairs; the certificate lints map kinds to lint ids,
so a name with several defects yields one finding per defect.
"""

from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from certkeeper.br import WILDCARD_PSL_SECTIONS

if TYPE_CHECKING:
    from certkeeper.lint.tld import TldData

_LDH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

# Kinds returned by dns_name_syntax_problems.
EMPTY = "empty"
TOO_LONG = "too_long"
LABEL_TOO_LONG = "label_too_long"
EMPTY_LABEL = "empty_label"
BAD_CHAR = "bad_char"
UNDERSCORE = "underscore"
HYPHEN_EDGE = "hyphen_edge"
WILDCARD = "wildcard"
RESERVED_LABEL = "reserved_label"
BAD_IDN = "bad_idn"
TRAILING_DOT = "trailing_dot"
IP_LITERAL = "ip_literal"


@lru_cache(maxsize=2)
def _psl(only_icann: bool = True) -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=only_icann, accept_unknown=False)


def _wildcard_psl() -> Any:
    """The list a wildcard's base is checked against (`br.WILDCARD_PSL_SECTIONS`)."""
    return _psl(only_icann="private" not in WILDCARD_PSL_SECTIONS)


def public_suffix(name: str) -> str | None:
    """The ICANN public suffix `name` ends in, or None for an internal name."""
    suffix = _psl().publicsuffix(name.lower())
    return None if suffix is None else str(suffix)


_IPV4_CHARS = frozenset("0123456789.")


def may_be_ip_literal(text: str) -> bool:
    """Whether `ipaddress.ip_address` could accept `text`: IPv4 is digits and dots, IPv6
    has colons. Asking first spares the exception a domain name would raise (a
    measurable share of linting a certificate, benchmarks/lint_corpora.py)."""
    return ":" in text or (bool(text) and set(text) <= _IPV4_CHARS)


@lru_cache(maxsize=4096)
def dns_name_syntax_problems(name: str) -> tuple[tuple[str, str], ...]:
    """Preferred name syntax (RFC 1034 3.5 / RFC 5280 4.2.1.6) plus the BR wildcard rule.

    Cached: the same names recur (a precertificate and its certificate, renewals)."""
    return tuple(_dns_name_syntax_problems(name))


def _dns_name_syntax_problems(name: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not name:
        return [(EMPTY, "dNSName is empty")]
    if not name.isascii():
        out.append((BAD_CHAR, f"dNSName {name!r} holds non-ASCII characters (use A-labels)"))
        return out
    if name.endswith("."):
        out.append((TRAILING_DOT, f"dNSName {name!r} ends with a dot"))
        name = name[:-1]
    if len(name) > 253:
        out.append((TOO_LONG, f"dNSName is {len(name)} characters long (at most 253)"))
    labels = name.split(".")
    if may_be_ip_literal(name):
        try:
            ipaddress.ip_address(name)
            out.append((IP_LITERAL, f"dNSName {name!r} is an IP address; use an iPAddress entry"))
            return out
        except ValueError:
            pass
    for i, label in enumerate(labels):
        if label == "*" and i == 0:
            continue
        if "*" in label:
            out.append(
                (WILDCARD, f"dNSName {name!r}: a wildcard may only be the whole leftmost label")
            )
            continue
        if not label:
            out.append((EMPTY_LABEL, f"dNSName {name!r} has an empty label"))
            continue
        if len(label) > 63:
            out.append((LABEL_TOO_LONG, f"dNSName {name!r}: label of {len(label)} characters"))
        if "_" in label:
            out.append((UNDERSCORE, f"dNSName {name!r} contains an underscore"))
        if not set(label) <= _LDH | {"_"}:
            out.append(
                (BAD_CHAR, f"dNSName {name!r}: label {label!r} is not letters, digits, hyphens")
            )
        if label[0] == "-" or label[-1] == "-":
            out.append((HYPHEN_EDGE, f"dNSName {name!r}: label {label!r} starts or ends with '-'"))
        if len(label) >= 4 and label[2:4] == "--":
            if label[:4].lower() != "xn--":
                out.append(
                    (RESERVED_LABEL, f"dNSName {name!r}: label {label!r} has '--' in positions 3-4")
                )
            else:
                try:
                    label[4:].encode("ascii").decode("punycode")
                    label.encode("ascii").decode("idna")
                except (UnicodeError, ValueError):
                    out.append((BAD_IDN, f"dNSName {name!r}: {label!r} is not a valid A-label"))
    if len(labels) == 1 and labels[0] != "*":
        out.append((EMPTY_LABEL, f"dNSName {name!r} is a single label, not a domain name"))
    return out


@lru_cache(maxsize=4096)
def registry_problems(name: str, at: date, tld: TldData) -> tuple[tuple[str, str], ...]:
    """TLD delegated at `at`; not an internal name; no wildcard over a public suffix.

    Cached like the syntax check: a name and a day give the same answer each time."""
    return tuple(_registry_problems(name, at, tld))


def _registry_problems(name: str, at: date, tld: TldData) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    base = name.rstrip(".").lower()
    if not base or not base.isascii():
        return out
    labels = base.split(".")
    top = labels[-1]
    if top == "onion":  # BR Appendix B: onion names are not in the root zone
        return out
    if not tld.is_delegated(top, at):
        out.append(("tld", f"dNSName {name!r}: {tld.status(top, at)}"))
    psl = _psl()
    check = base[2:] if base.startswith("*.") else base
    if check and psl.publicsuffix(check) is None:
        out.append(
            (
                "internal",
                f"dNSName {name!r} is an internal name: .{top} is not an ICANN public suffix",
            )
        )
    elif base.startswith("*.") and check and _wildcard_psl().is_public(check):
        out.append(
            ("wildcard_suffix", f"dNSName {name!r} is a wildcard over public suffix {check}")
        )
    elif not base.startswith("*.") and psl.is_public(base):
        out.append(("bare_suffix", f"dNSName {name!r} is itself a public suffix"))
    return out


def ip_problem(raw: bytes) -> str | None:
    """An iPAddress must be 4 or 16 octets and publicly routable (IANA special registries)."""
    if len(raw) not in (4, 16):
        return f"iPAddress of {len(raw)} octets (must be 4 or 16)"
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"iPAddress {ip} is an IPv4-mapped IPv6 address"
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return f"iPAddress {ip} is reserved (IANA special-purpose address registry)"
    return None


def ip_text(raw: bytes) -> str:
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return raw.hex()
