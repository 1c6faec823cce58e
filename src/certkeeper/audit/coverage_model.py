"""What the status coverage audit reports, and how one serial's answers are judged.

Pure: the inputs are what the inventory expects (if the audit runs against our own
CA), what the published CRL shard says, and what the live OCSP responder answered;
the output is a list of findings. No network, no database, no clock (`now` is given).

Finding kinds, and the rule each one enforces:

- `unknown`: an issued serial is answered "unknown" (seed 003: precertificates
  logged to CT that the responder did not know).
- `no-status`: an issued serial gets an error response (tryLater, unauthorized, ...).
- `revoked-but-missing-from-crl`: a revoked, unexpired serial is not on its CRL
  shard (RFC 5280 5.1.2.6, BR 4.9.7).
- `status-mismatch`: revoked in one source (OCSP, CRL, inventory) and good in
  another, or revoked at a different time or for a different reason.
- `ocsp-lint`: the response fails certkeeper's OCSP lints (seed 001: fractional
  seconds).
- `ocsp-wrong-certid`: the response does not carry the CertID that was asked about.
- `ocsp-stale`: thisUpdate is in the future or nextUpdate has passed.
- `unused-good`: a serial assigned but never signed for is answered "good" (BR 4.9.10).
- `unassigned-good`: a never-assigned serial is answered "good" (BR 4.9.10).
- `transport-error`: no usable HTTP answer after every retry.
- `crl-unavailable`: a CRL could not be fetched, so revocations could not be checked.
- `crl-invalid`: a CRL does not parse or does not verify with its issuer's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from certkeeper.audit.ocsp_response import ParsedResponse, ResponseParseError, parse_response

# How far a responder's clock may run ahead of the auditor's before thisUpdate counts as
# "in the future"; responses signed during a long audit are ahead of its start too.
CLOCK_SKEW = timedelta(minutes=5)


class Kind(StrEnum):
    unknown = "unknown"
    no_status = "no-status"
    revoked_missing_from_crl = "revoked-but-missing-from-crl"
    status_mismatch = "status-mismatch"
    ocsp_lint = "ocsp-lint"
    ocsp_wrong_certid = "ocsp-wrong-certid"
    ocsp_stale = "ocsp-stale"
    unused_good = "unused-good"
    unassigned_good = "unassigned-good"
    transport_error = "transport-error"
    crl_unavailable = "crl-unavailable"
    crl_invalid = "crl-invalid"


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One problem. `serial` is lowercase hex, or None for a finding about a source
    (a CRL that could not be loaded)."""

    kind: Kind
    serial: str | None
    issuer: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "serial": self.serial,
            "issuer": self.issuer,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Revoked:
    """A revocation as one source states it; `reason` None means absent/unspecified."""

    time: datetime
    reason: int | None


class Expect(StrEnum):
    """What the inventory says the responder should answer for a serial."""

    issued = "issued"  # precertificate signed: good or revoked, never unknown/no status
    unused = "unused"  # assigned, nothing signed: never good
    unassigned = "unassigned"  # a probe: never good
    foreign = "foreign"  # another CA's certificate: a status must exist


@dataclass(frozen=True, slots=True)
class CrlView:
    """What the serial's CRL shard says: `loaded` False when it could not be read."""

    loaded: bool
    entry: Revoked | None = None


CRL_NOT_LOADED = CrlView(False)
CRL_NOT_LISTED = CrlView(True)


@dataclass(frozen=True, slots=True)
class Target:
    """One serial to audit, with everything but the live answer."""

    serial: int
    issuer: str
    expect: Expect
    inventory_revoked: Revoked | None = None
    crl: CrlView = CRL_NOT_LOADED
    check_crl: bool = False  # a shard exists for it (the CRL side is audited)

    @property
    def hex(self) -> str:
        return format(self.serial, "x")


@dataclass(frozen=True, slots=True)
class OcspView:
    """What the responder said about one serial, reduced for the comparisons."""

    status: str  # good | revoked | unknown | <error response status> | malformed | transport
    revoked: Revoked | None = None
    detail: str = ""
    this_update: datetime | None = None
    next_update: datetime | None = None


def ocsp_view(
    body: bytes | None, cert_id_prefix: bytes, serial: int, failure: str | None = None
) -> tuple[OcspView, ParsedResponse | None]:
    """Reduce an answer (or a transport failure) to the status it states."""
    if body is None:
        return OcspView("transport", detail=failure or "no answer"), None
    try:
        parsed = parse_response(body)
    except ResponseParseError as exc:
        return OcspView("malformed", detail=str(exc)), None
    if parsed.response_status != 0:
        return OcspView(parsed.status_name), parsed
    single = parsed.single_for(cert_id_prefix, serial)
    if single is None:
        got = ", ".join(format(s.serial, "x") for s in parsed.singles)
        return OcspView("wrong-certid", detail=f"the response is about serial(s) {got}"), parsed
    revoked = (
        Revoked(single.revocation_time, single.reason)
        if single.revocation_time is not None
        else None
    )
    return OcspView(single.status, revoked, "", single.this_update, single.next_update), parsed


def _same_revocation(a: Revoked, b: Revoked) -> bool:
    # unspecified (0) is encoded as an absent reason (BR 7.2.2): they are the same
    return a.time == b.time and (a.reason or None) == (b.reason or None)


def _describe(r: Revoked) -> str:
    reason = "no reason" if not r.reason else f"reason {r.reason}"
    return f"revoked at {r.time.isoformat()} ({reason})"


def classify(
    target: Target,
    view: OcspView,
    parsed: ParsedResponse | None,
    now: datetime,
) -> list[AuditFinding]:
    """Every finding about one serial given the responder's answer (lints aside)."""
    out: list[AuditFinding] = []

    def add(kind: Kind, detail: str) -> None:
        out.append(AuditFinding(kind, target.hex, target.issuer, detail))

    status = view.status
    if status == "transport":
        add(Kind.transport_error, view.detail)
        return out
    if status == "wrong-certid":
        add(Kind.ocsp_wrong_certid, view.detail)
        return out
    if target.expect in (Expect.unused, Expect.unassigned):
        if status == "good":
            kind = Kind.unused_good if target.expect is Expect.unused else Kind.unassigned_good
            what = (
                "assigned but never signed for"
                if target.expect is Expect.unused
                else "never assigned"
            )
            add(kind, f"a serial {what} is answered good (BR 4.9.10)")
        return out
    # issued or foreign: a status must exist
    if status == "unknown":
        add(Kind.unknown, "the responder does not know an issued serial")
    elif status not in ("good", "revoked"):
        suffix = f": {view.detail}" if view.detail else ""
        add(Kind.no_status, f"the responder answered {status} for an issued serial{suffix}")
    if view.this_update is not None and view.this_update > now + CLOCK_SKEW:
        add(Kind.ocsp_stale, f"thisUpdate {view.this_update.isoformat()} is in the future")
    elif view.next_update is not None and view.next_update < now:
        add(Kind.ocsp_stale, f"nextUpdate {view.next_update.isoformat()} has passed")
    ocsp_revoked = view.revoked if status == "revoked" else None
    crl_entry = target.crl.entry if target.crl.loaded else None
    inv = target.inventory_revoked
    revoked_anywhere = ocsp_revoked is not None or inv is not None or crl_entry is not None
    if target.check_crl and revoked_anywhere and crl_entry is None:
        if target.crl.loaded:
            add(Kind.revoked_missing_from_crl, "revoked, but not on its CRL shard")
        else:
            add(Kind.crl_unavailable, "revoked, and its CRL shard could not be loaded")
    # Revoked in one source, good in another. A CRL that does not list a revoked
    # serial is reported above, not again here.
    sources: list[tuple[str, Revoked | None]] = []
    if status in ("good", "revoked"):
        sources.append(("OCSP", ocsp_revoked))
    if crl_entry is not None:
        sources.append(("CRL", crl_entry))
    if target.expect is Expect.issued:
        sources.append(("inventory", inv))
    revoked_in = [(name, r) for name, r in sources if r is not None]
    good_in = [name for name, r in sources if r is None]
    if revoked_in and good_in:
        add(
            Kind.status_mismatch,
            f"revoked in {', '.join(n for n, _ in revoked_in)}, good in {', '.join(good_in)}",
        )
    elif len(revoked_in) > 1:
        first_name, first = revoked_in[0]
        for name, other in revoked_in[1:]:
            if not _same_revocation(first, other):
                add(
                    Kind.status_mismatch,
                    f"{first_name} {_describe(first)}, {name} {_describe(other)}",
                )
                break
    return out
