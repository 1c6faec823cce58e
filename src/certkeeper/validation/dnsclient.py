"""DNS lookups for validation and CAA, through a DNSSEC-validating resolver.

BR 3.2.2.4 and 4.2.2.1.1 (from `br.DNSSEC_VALIDATION_FROM`) require DNSSEC validation
back to the IANA root trust anchor for every query of domain validation (CNAMEs
included) and of CAA. The validation is done by the configured resolver (Unbound, as
Boulder does; its trust anchor is the IANA root unless configured otherwise): it follows
CNAMEs, validates every step and answers SERVFAIL for anything bogus, naming the reason
in an RFC 8914 Extended DNS Error. Every query here asks for DNSSEC (DO) and for the
AD bit (RFC 6840 5.7), so each answer is classified:

- AD set: "secure", the whole chain validated;
- AD clear: "insecure", no chain of trust (an unsigned zone, or a signed one whose parent
  has no DS: allowed, RFC 4035 4.3);
- SERVFAIL: a failure, with the DNSSEC reason when the resolver gives one.

A resolver that does not validate would make every answer "insecure": certkeeper relies on
the configured resolver being a validating one (docs/validation.md).

No cache is kept here: every query goes to the resolver, nothing is shared between
checks. Failures are one readable line for the RFC 8555 problem type "dns".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from certkeeper.settings.validation import ValidationSettings, resolver_address

SECURE = "secure"
INSECURE = "insecure"
# RFC 8914 4: the Extended DNS Error codes that report a DNSSEC validation failure.
DNSSEC_EDE = {
    1: "unsupported DNSKEY algorithm",
    2: "unsupported DS digest type",
    5: "DNSSEC indeterminate",
    6: "DNSSEC bogus",
    7: "signature expired",
    8: "signature not yet valid",
    9: "DNSKEY missing",
    10: "RRSIGs missing",
    11: "no zone key bit set",
    12: "NSEC missing",
}
EDNS_PAYLOAD = 1232  # DNS flag day 2020: avoids fragmentation, TCP beyond it


class LookupFailed(Exception):
    """The lookup did not produce a usable answer (SERVFAIL, bogus, REFUSED, timeout).

    `dnssec` is "bogus" when the resolver reported a DNSSEC validation failure."""

    def __init__(self, detail: str, *, dnssec: str | None = None) -> None:
        super().__init__(detail)
        self.dnssec = dnssec


@dataclass(frozen=True)
class Answer:
    name: str  # the name asked for
    canonical: str  # after following CNAMEs
    cnames: tuple[str, ...]  # the CNAME chain followed, in order
    records: tuple[object, ...]  # rdata objects (empty: no such records)
    dnssec: str = INSECURE  # SECURE or INSECURE for the whole chain


def nameservers(settings: ValidationSettings) -> list[tuple[str, int]]:
    """The configured resolver, else the system's (from /etc/resolv.conf)."""
    if settings.resolver:
        return [resolver_address(settings.resolver)]
    system = dns.resolver.Resolver(configure=True)
    return [(str(ns), 53) for ns in system.nameservers]


def lookup(name: str, rdtype: str, settings: ValidationSettings, deadline: float) -> Answer:
    """Records of `rdtype` at `name`, CNAMEs followed; NXDOMAIN and NODATA give no records."""
    qname = dns.name.from_text(name)
    wanted = dns.rdatatype.from_text(rdtype)
    response = _exchange(qname, wanted, name, rdtype, settings, deadline)
    rcode = response.rcode()
    if rcode == dns.rcode.SERVFAIL:
        raise _servfail(response, name, rdtype)
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise LookupFailed(f"{rdtype} lookup for {name} failed: {dns.rcode.to_text(rcode)}")
    secure = bool(response.flags & dns.flags.AD)
    canonical = qname
    cnames: list[str] = []
    for _ in range(16):  # a resolver sends the chain in order; bound a malicious loop
        rrset = response.get_rrset(
            response.answer, canonical, dns.rdataclass.IN, dns.rdatatype.CNAME
        )
        if rrset is None or wanted == dns.rdatatype.CNAME:
            break
        canonical = next(iter(rrset)).target
        cnames.append(_text(canonical))
    records: list[object] = []
    if rcode == dns.rcode.NOERROR:
        found = response.get_rrset(response.answer, canonical, dns.rdataclass.IN, wanted)
        if found is not None:
            records.extend(found)
    status = SECURE if secure else INSECURE
    return Answer(name, _text(canonical), tuple(cnames), tuple(records), status)


def _exchange(
    qname: dns.name.Name,
    wanted: dns.rdatatype.RdataType,
    name: str,
    rdtype: str,
    settings: ValidationSettings,
    deadline: float,
) -> dns.message.Message:
    """One query (DO and AD set, RD on) to the first resolver that answers in time; UDP
    with a TCP retry when truncated. Only transport failures move on to the next try."""
    query = dns.message.make_query(
        qname, wanted, want_dnssec=True, use_edns=0, payload=EDNS_PAYLOAD
    )
    query.flags |= dns.flags.AD
    servers = nameservers(settings)
    if not servers:
        raise LookupFailed(f"{rdtype} lookup for {name}: no resolver is configured")
    errors: list[str] = []
    while time.monotonic() < deadline:
        for host, port in servers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response, _ = dns.query.udp_with_fallback(
                    query, host, timeout=min(remaining, 5.0), port=port
                )
            except dns.exception.Timeout:
                errors.append(f"{host}:{port} timed out")
                continue
            except (OSError, dns.exception.DNSException) as exc:
                errors.append(f"{host}:{port}: {_first(exc)}")
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            return response
    if errors and all(e.endswith("timed out") for e in errors):
        raise LookupFailed(f"{rdtype} lookup for {name} timed out")
    raise LookupFailed(f"{rdtype} lookup for {name} failed: {errors[-1] if errors else 'no time'}")


def _servfail(response: dns.message.Message, name: str, rdtype: str) -> LookupFailed:
    """SERVFAIL, named by the resolver's Extended DNS Error when it gives one."""
    for option in response.options:
        if isinstance(option, dns.edns.EDEOption) and int(option.code) in DNSSEC_EDE:
            reason = DNSSEC_EDE[int(option.code)]
            text = f": {option.text}" if option.text else ""
            return LookupFailed(
                f"{rdtype} lookup for {name} failed DNSSEC validation ({reason}){text}",
                dnssec="bogus",
            )
    for option in response.options:
        if isinstance(option, dns.edns.EDEOption):
            text = f": {option.text}" if option.text else ""
            return LookupFailed(
                f"{rdtype} lookup for {name} failed: SERVFAIL (extended error "
                f"{int(option.code)}){text}"
            )
    return LookupFailed(f"{rdtype} lookup for {name} failed: SERVFAIL")


def addresses(name: str, settings: ValidationSettings, deadline: float) -> tuple[list[str], str]:
    """IPv6 then IPv4 addresses of `name` (RFC 8555 8.3 lets the server pick; trying IPv6
    first and falling back matches what clients see on dual-stack hosts), and the DNSSEC
    status of both lookups. A DNSSEC failure of either family is a failure: a bogus
    answer is never permission to connect elsewhere."""
    out: list[str] = []
    failures: list[str] = []
    statuses: list[str] = []
    for rdtype in ("AAAA", "A"):
        try:
            answer = lookup(name, rdtype, settings, deadline)
        except LookupFailed as exc:
            if exc.dnssec is not None:
                raise
            failures.append(str(exc))
            continue
        statuses.append(answer.dnssec)
        out.extend(str(r) for r in answer.records)
    if not out and failures:
        raise LookupFailed(failures[0])
    return out, overall(statuses)


def overall(statuses: list[str]) -> str:
    """SECURE only when every lookup was secure."""
    return SECURE if statuses and all(s == SECURE for s in statuses) else INSECURE


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
