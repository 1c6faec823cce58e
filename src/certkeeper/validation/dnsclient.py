"""A fresh DNS resolver per check (BR 3.2.2.9: no cache shared between lookups).

Every check builds its own `dns.resolver.Resolver` with no cache, pointed at the
configured resolver (tests: a DNS server on loopback) or the system's. Failures are
classified into the RFC 8555 problem type "dns" with one readable line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from certkeeper.validation.settings import ValidationSettings, resolver_address


class LookupFailed(Exception):
    """The lookup did not produce an answer (SERVFAIL, REFUSED, timeout, ...)."""


@dataclass(frozen=True)
class Answer:
    name: str  # the name asked for
    canonical: str  # after following CNAMEs
    cnames: tuple[str, ...]  # the CNAME chain followed, in order
    records: tuple[object, ...]  # rdata objects (empty: no such records)


def new_resolver(settings: ValidationSettings, deadline: float) -> dns.resolver.Resolver:
    if settings.resolver:
        resolver = dns.resolver.Resolver(configure=False)
        host, port = resolver_address(settings.resolver)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        resolver = dns.resolver.Resolver(configure=True)
    resolver.cache = None
    remaining = max(0.05, deadline - time.monotonic())
    resolver.lifetime = remaining
    resolver.timeout = min(remaining, 5.0)
    return resolver


def lookup(name: str, rdtype: str, settings: ValidationSettings, deadline: float) -> Answer:
    """Records of `rdtype` at `name`, CNAMEs followed; NXDOMAIN and NODATA give no records."""
    resolver = new_resolver(settings, deadline)
    qname = dns.name.from_text(name)
    try:
        answer = resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as exc:
        return Answer(name, _text(exc.canonical_name), (), ())
    except dns.resolver.NoNameservers as exc:
        raise LookupFailed(f"{rdtype} lookup for {name} failed: {_first(exc)}") from None
    except dns.exception.Timeout:
        raise LookupFailed(f"{rdtype} lookup for {name} timed out") from None
    except dns.exception.DNSException as exc:
        raise LookupFailed(f"{rdtype} lookup for {name} failed: {_first(exc)}") from None
    cnames: list[str] = []
    wanted = dns.rdatatype.from_text(rdtype)
    records: list[object] = []
    response = answer.response
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            cnames.extend(_text(r.target) for r in rrset)
        elif rrset.rdtype == wanted and rrset.name == answer.canonical_name:
            records.extend(rrset)
    return Answer(name, _text(answer.canonical_name), tuple(cnames), tuple(records))


def addresses(name: str, settings: ValidationSettings, deadline: float) -> list[str]:
    """IPv6 then IPv4 addresses of `name` (RFC 8555 8.3 lets the server pick; trying IPv6
    first and falling back matches what clients see on dual-stack hosts)."""
    out: list[str] = []
    failures: list[str] = []
    for rdtype in ("AAAA", "A"):
        try:
            out.extend(str(r) for r in lookup(name, rdtype, settings, deadline).records)
        except LookupFailed as exc:
            failures.append(str(exc))
    if not out and failures:
        raise LookupFailed(failures[0])
    return out


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
