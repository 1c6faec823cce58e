"""CAA checking (RFC 8659, with the RFC 8657 accounturi and validationmethods parameters).

Algorithm, per RFC 8659 3: starting at the FQDN, ask for CAA (the resolver follows
CNAMEs for that query); the first non-empty answer is the relevant RRset; otherwise climb
to the parent and ask again, up to but not including the root. No CAA anywhere means any
CA may issue. A lookup that fails at any step (SERVFAIL, DNSSEC bogus, timeout) is never
"allowed": BR 3.2.2.8 permits issuance after a failure only for an unreachable,
DNSSEC-less delegation we cannot tell from an attack, so we refuse. Every lookup is
DNSSEC-validated (BR 4.2.2.1.1, `dnsclient`); the result records "secure" only when
every answer on the way validated.

Within the relevant RRset:
- a critical flag on a tag we do not understand forbids issuance;
- for a wildcard name, "issuewild" properties decide when any exist, else "issue";
- for a non-wildcard name, "issue" properties decide; none means no restriction;
- a property authorizes us when its issuer-domain-name is one of our identities, its
  value parses (RFC 8659 4.2), every accounturi equals the requesting account's URI and
  every validationmethods list names the ACME method used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.dnsclient import LookupFailed, lookup, overall
from certkeeper.validation.model import CaaResult

FLAG_CRITICAL = 0x80
# Tags this CA understands: RFC 8659 (issue, issuewild, iodef), RFC 9495 (issuemail),
# BR A.1 (contactemail, contactphone), BIMI (issuevmc). Only issue/issuewild restrict us.
KNOWN_TAGS = frozenset(
    {"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"}
)

_LABEL = r"[A-Za-z0-9](?:-*[A-Za-z0-9])*"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_TAG_RE = re.compile(rf"^{_LABEL}$")
_WSP = " \t"
# RFC 8657 4: validationmethods = label *("," label), label = 1*(ALPHA / DIGIT / "-")
_METHOD_LABEL_RE = re.compile(r"^[A-Za-z0-9-]+$")


class CaaSyntaxError(ValueError):
    """An issue/issuewild value outside the RFC 8659 4.2 grammar."""


@dataclass(frozen=True)
class IssueValue:
    issuer: str | None  # lower case; None: ";" alone, which authorizes nobody
    parameters: tuple[tuple[str, str], ...]  # (tag lower case, value) in order


def parse_issue_value(value: str) -> IssueValue:
    """Parse an issue/issuewild property value (RFC 8659 4.2 with errata 7139):

    issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
    parameters = (parameter *WSP ";" *WSP parameters) / parameter
    parameter = parameter-tag *WSP "=" *WSP parameter-value
    parameter-value = *(%x21-3A / %x3C-7E)
    """
    head, sep, tail = value.partition(";")
    issuer_text = head.strip(_WSP)
    issuer: str | None = None
    if issuer_text:
        if not _DOMAIN_RE.match(issuer_text):
            raise CaaSyntaxError(f"issuer-domain-name {issuer_text!r} is not LDH labels")
        issuer = issuer_text.lower()
    params: list[tuple[str, str]] = []
    if sep:
        rest = tail.strip(_WSP)
        if rest:
            for part in rest.split(";"):
                params.append(_parse_parameter(part.strip(_WSP), value))
    return IssueValue(issuer, tuple(params))


def _parse_parameter(part: str, whole: str) -> tuple[str, str]:
    tag, eq, val = part.partition("=")
    tag = tag.rstrip(_WSP)
    val = val.lstrip(_WSP)
    if not eq or not _TAG_RE.match(tag):
        raise CaaSyntaxError(f"parameter {part!r} in {whole!r} is not tag=value")
    if any(not (0x21 <= ord(c) <= 0x7E) or c == ";" for c in val):
        raise CaaSyntaxError(f"parameter value {val!r} in {whole!r} has a forbidden character")
    return tag.lower(), val


def parse_validation_methods(value: str) -> tuple[str, ...]:
    labels = tuple(value.split(","))
    if not all(_METHOD_LABEL_RE.match(label) for label in labels):
        raise CaaSyntaxError(f"validationmethods {value!r} is not a comma-separated list")
    return labels


@dataclass(frozen=True)
class Property:
    flags: int
    tag: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"flags": self.flags, "tag": self.tag, "value": self.value}


def decide(
    rrset: Iterable[Property],
    *,
    wildcard: bool,
    identities: Iterable[str],
    account_uri: str,
    method: str,
) -> tuple[bool, str]:
    """(allowed, reason) for a relevant RRset. Pure: the heart of the check."""
    props = list(rrset)
    ours = {i.lower() for i in identities}
    for p in props:
        if p.flags & FLAG_CRITICAL and p.tag.lower() not in KNOWN_TAGS:
            return False, f"CAA property {p.tag!r} is marked critical and not understood"
    issue = [p for p in props if p.tag.lower() == "issue"]
    issuewild = [p for p in props if p.tag.lower() == "issuewild"]
    relevant = issuewild if wildcard and issuewild else issue
    kind = "issuewild" if wildcard and issuewild else "issue"
    if not relevant:
        return True, "the relevant CAA RRset has no issue properties: no restriction"
    reasons: list[str] = []
    for p in relevant:
        ok, why = _authorizes(p, ours, account_uri, method)
        if ok:
            return True, f"CAA {kind} {p.value!r} authorizes this CA"
        reasons.append(why)
    return False, f"no CAA {kind} property authorizes this CA ({'; '.join(reasons)})"


def _authorizes(p: Property, ours: set[str], account_uri: str, method: str) -> tuple[bool, str]:
    try:
        parsed = parse_issue_value(p.value)
    except CaaSyntaxError as exc:
        return False, f"unparseable {p.value!r}: {exc}"
    if parsed.issuer is None:
        return False, f"{p.value!r} authorizes no CA"
    if parsed.issuer not in ours:
        return False, f"{parsed.issuer} is another CA"
    for tag, value in parsed.parameters:
        if tag == "accounturi" and value != account_uri:
            return False, f"accounturi {value} is another account"
        if tag == "validationmethods":
            try:
                allowed = parse_validation_methods(value)
            except CaaSyntaxError as exc:
                return False, str(exc)
            if method not in allowed:
                return False, f"validationmethods {value} excludes {method}"
    return True, "authorized"


def check_caa(
    fqdn: str, *, wildcard: bool, account_uri: str, method: str, settings: ValidationSettings
) -> CaaResult:
    """RFC 8659 for one FQDN (without any "*."), with a fresh resolver per lookup."""
    deadline = time.monotonic() + settings.timeout_seconds
    name = fqdn.lower().rstrip(".")
    if name.startswith("*."):
        name, wildcard = name[2:], True
    labels = name.split(".")
    asked: list[dict[str, Any]] = []
    evidence: dict[str, Any] = {
        "fqdn": name,
        "wildcard": wildcard,
        "resolver": settings.resolver or "system",
        "identities": list(settings.caa_identities),
        "method": method,
        "lookups": asked,
    }
    for i in range(len(labels)):
        at = ".".join(labels[i:])
        try:
            answer = lookup(at, "CAA", settings, deadline)
        except LookupFailed as exc:
            asked.append({"name": at, "error": str(exc), "dnssec": exc.dnssec})
            return CaaResult(
                allowed=False,
                detail=f"CAA lookup failed, issuance refused: {exc}",
                problem_type="dns",
                evidence=evidence,
            )
        asked.append(
            {
                "name": at,
                "cnames": list(answer.cnames),
                "records": len(answer.records),
                "dnssec": answer.dnssec,
            }
        )
        if not answer.records:
            continue
        rrset = [_property(r) for r in answer.records]
        evidence["relevant"] = {
            "name": at,
            "canonical": answer.canonical,
            "records": [p.to_json() for p in rrset],
        }
        allowed, why = decide(
            rrset,
            wildcard=wildcard,
            identities=settings.caa_identities,
            account_uri=account_uri,
            method=method,
        )
        where = f"CAA at {at}" + (f" (via {answer.canonical})" if answer.canonical != at else "")
        return CaaResult(
            allowed=allowed,
            detail=f"{where}: {why}",
            problem_type=None if allowed else "caa",
            evidence=evidence,
            dnssec=_dnssec(evidence),
        )
    return CaaResult(
        allowed=True,
        detail=f"no CAA records from {name} up to the root: any CA may issue",
        evidence=evidence,
        dnssec=_dnssec(evidence),
    )


def _dnssec(evidence: dict[str, Any]) -> str:
    status = overall([str(entry["dnssec"]) for entry in evidence["lookups"]])
    evidence["dnssec"] = status
    return status


def _property(rdata: object) -> Property:
    flags = int(getattr(rdata, "flags", 0))
    tag = bytes(getattr(rdata, "tag", b"")).decode("ascii", "replace")
    value = bytes(getattr(rdata, "value", b"")).decode("utf-8", "replace")
    return Property(flags, tag, value)
