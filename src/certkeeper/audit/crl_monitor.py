"""CRL monitoring as pure comparison: snapshots (and what is known of expiry) in, findings out.

Two kinds of comparison, both free of I/O and clock:

* `compare_pair(old, new)`: two CRLs of one scope, the earlier and the later. Same issuer,
  IDP byte for byte (BR 7.2.2.1), CRL number strictly increasing (RFC 5280 5.2.3),
  thisUpdate increasing, nextUpdate present and within BR 4.9.7, entries never changed
  except to keyCompromise (BR 7.2.2, RFC 5280 5.3.1). Serials that left the list are
  returned for `judge_removals`, because whether a removal is early depends on the
  certificate's notAfter, which the CRL does not carry.
* `compare_sets(previous, current, listed_urls)`: a partitioned CRL, i.e. the shards the
  CCADB JSON array names. The set is complete (every URL fetched, each shard's IDP names
  the URL it is served at, no duplicates, one issuer), every shard passes `compare_pair`
  against its previous snapshot, and a serial revoked in any earlier snapshot is still in
  SOME shard until its certificate expired: an entry may not vanish by moving out of the
  list either.

An entry may leave a CRL only after it has appeared on at least one regularly scheduled
CRL issued after the certificate expired (RFC 5280 3.3). A removal while the certificate
is still valid at the new CRL's thisUpdate is an error; a removal of an expired
certificate that no observed CRL listed after its expiry is a warning (an unobserved CRL
in between may have); a removal the monitor cannot date is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from certkeeper.audit.crl_snapshots import CrlSnapshot, Entry
from certkeeper.x509.crl import KEY_COMPROMISE, reason_name

# BR 4.9.7: a subscriber CRL's nextUpdate at most ten days after thisUpdate; a CRL of
# CA certificates (IDP onlyContainsCACerts) at most twelve months.
MAX_SUBSCRIBER_CRL_VALIDITY = timedelta(days=10)
MAX_CA_CRL_VALIDITY = timedelta(days=366)

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str  # error | warning
    code: str
    scope: str  # the shard's IDP URI or the CRL's source
    message: str
    serial: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "severity": self.severity,
            "code": self.code,
            "scope": self.scope,
            "serial": self.serial,
            "message": self.message,
        }


@dataclass
class PairResult:
    findings: list[Finding] = field(default_factory=list)
    removed: dict[str, Entry] = field(default_factory=dict)  # serial -> entry as last listed
    comparable: bool = True  # False when scopes differ and entries were not compared


def check_single(crl: CrlSnapshot, now: datetime | None = None) -> list[Finding]:
    """What one CRL must satisfy on its own: a CRL number, a nextUpdate within BR 4.9.7,
    and (when `now` is given) not served after its nextUpdate."""
    out: list[Finding] = []
    scope = crl.scope
    if crl.number is None:
        out.append(Finding(ERROR, "crl-number-missing", scope, "no cRLNumber extension"))
    elif crl.number < 0:
        out.append(Finding(ERROR, "crl-number-negative", scope, f"CRL number {crl.number} < 0"))
    if crl.next_update is None:
        out.append(Finding(ERROR, "next-update-missing", scope, "no nextUpdate (BR 4.9.7)"))
        return out
    limit = MAX_CA_CRL_VALIDITY if crl.only_ca else MAX_SUBSCRIBER_CRL_VALIDITY
    span = crl.next_update - crl.this_update
    if span <= timedelta(0):
        out.append(
            Finding(
                ERROR,
                "next-update-not-after-this-update",
                scope,
                f"nextUpdate {_t(crl.next_update)} is not after thisUpdate {_t(crl.this_update)}",
            )
        )
    elif span > limit:
        out.append(
            Finding(
                ERROR,
                "next-update-too-far",
                scope,
                f"nextUpdate is {_span(span)} after thisUpdate; BR 4.9.7 allows {_span(limit)}",
            )
        )
    if now is not None and now > crl.next_update:
        out.append(
            Finding(
                ERROR,
                "stale",
                scope,
                f"served after its nextUpdate {_t(crl.next_update)} (CRL number {crl.number})",
            )
        )
    return out


def compare_pair(old: CrlSnapshot, new: CrlSnapshot) -> PairResult:
    """Compare an earlier and a later CRL of one scope (see the module text)."""
    result = PairResult()
    out = result.findings
    scope = new.scope
    if old.issuer != new.issuer:
        out.append(Finding(ERROR, "issuer-changed", scope, "the CRL issuer name changed"))
    if old.aki != new.aki:
        out.append(
            Finding(ERROR, "aki-changed", scope, "the authorityKeyIdentifier changed (other key)")
        )
    if old.idp != new.idp:
        out.append(
            Finding(
                ERROR,
                "idp-changed",
                scope,
                "issuingDistributionPoint is not byte-identical to the previous CRL's "
                f"({_uris(old)} -> {_uris(new)})",
            )
        )
    if out:
        result.comparable = False
        return result
    if old.tbs_sha256 == new.tbs_sha256:
        return result  # the same CRL fetched again (or the same content signed again)
    if old.number is not None and new.number is not None:
        if new.number == old.number:
            out.append(
                Finding(
                    ERROR,
                    "crl-number-reused",
                    scope,
                    f"CRL number {new.number} is reused for a different CRL (RFC 5280 5.2.3)",
                )
            )
        elif new.number < old.number:
            out.append(
                Finding(
                    ERROR,
                    "crl-number-decreased",
                    scope,
                    f"CRL number went down from {old.number} to {new.number} (RFC 5280 5.2.3)",
                )
            )
    if new.this_update <= old.this_update:
        out.append(
            Finding(
                ERROR,
                "this-update-not-increasing",
                scope,
                f"thisUpdate {_t(new.this_update)} is not after the previous {_t(old.this_update)}",
            )
        )
    for serial, before in old.entries.items():
        after = new.entries.get(serial)
        if after is None:
            result.removed[serial] = before
            continue
        if after == before or _same(before, after):
            continue
        out.extend(_entry_change(scope, serial, before, after))
    return result


def _same(a: Entry, b: Entry) -> bool:
    """Absent reasonCode and unspecified (0) are the same statement."""
    return a.revoked_at == b.revoked_at and (a.reason or 0) == (b.reason or 0)


def _entry_change(scope: str, serial: str, before: Entry, after: Entry) -> list[Finding]:
    """BR 7.2.2 / RFC 5280: once listed, an entry may change only to keyCompromise, and
    then its date may move earlier (to the compromise), never later."""
    to_key_compromise = after.reason == KEY_COMPROMISE
    out: list[Finding] = []
    if (before.reason or 0) != (after.reason or 0) and not to_key_compromise:
        out.append(
            Finding(
                ERROR,
                "reason-changed",
                scope,
                f"serial {serial}: reason changed from {reason_name(before.reason)} to "
                f"{reason_name(after.reason)}; only keyCompromise may replace a reason "
                "(BR 7.2.2)",
                serial,
            )
        )
    if before.revoked_at != after.revoked_at:
        allowed = to_key_compromise and after.revoked_at < before.revoked_at
        if not allowed:
            out.append(
                Finding(
                    ERROR,
                    "revocation-date-changed",
                    scope,
                    f"serial {serial}: revocationDate changed from {_t(before.revoked_at)} to "
                    f"{_t(after.revoked_at)}"
                    + (
                        ""
                        if to_key_compromise
                        else "; only a keyCompromise revocation may be backdated"
                    ),
                    serial,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Removal:
    """A serial that left the CRL(s): the entry as last listed and when it was last seen.

    `last_listed` is the thisUpdate of the last CRL seen listing it, `first_unlisted` that
    of the first CRL without it."""

    scope: str
    serial: str
    entry: Entry
    issuer: bytes
    last_listed: datetime
    first_unlisted: datetime


def removals(old: CrlSnapshot, new: CrlSnapshot, removed: Mapping[str, Entry]) -> list[Removal]:
    return [
        Removal(new.scope, serial, entry, old.issuer, old.this_update, new.this_update)
        for serial, entry in removed.items()
    ]


def judge_removals(
    found: Sequence[Removal], expiry: Mapping[str, datetime] | None
) -> list[Finding]:
    """Findings for serials that left the CRL(s); `expiry` maps serial -> notAfter for
    the certificates the caller knows (None: the caller has no source to ask)."""
    out: list[Finding] = []
    for r in sorted(found, key=lambda r: (r.scope, len(r.serial), r.serial)):
        serial, scope = r.serial, r.scope
        not_after = None if expiry is None else expiry.get(serial)
        revoked = f"revoked {_t(r.entry.revoked_at)}, {reason_name(r.entry.reason)}"
        if not_after is None:
            out.append(
                Finding(
                    WARNING,
                    "removal-not-verifiable",
                    scope,
                    f"serial {serial} ({revoked}) was removed; its notAfter is unknown"
                    + (
                        " (give --home or --certs to check it)"
                        if expiry is None
                        else " to the given inventory or certificate list"
                    ),
                    serial,
                )
            )
        elif not_after >= r.first_unlisted:
            out.append(
                Finding(
                    ERROR,
                    "early-removal",
                    scope,
                    f"serial {serial} ({revoked}) is missing from the CRL of "
                    f"{_t(r.first_unlisted)} but its certificate is valid until {_t(not_after)}",
                    serial,
                )
            )
        elif r.last_listed <= not_after:
            out.append(
                Finding(
                    WARNING,
                    "removed-without-post-expiry-crl",
                    scope,
                    f"serial {serial} ({revoked}) expired {_t(not_after)}; the last CRL seen "
                    f"listing it is of {_t(r.last_listed)}, before expiry (RFC 5280 3.3 wants "
                    "one issued after)",
                    serial,
                )
            )
    return out


# -- shard sets -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchFailure:
    url: str
    message: str


@dataclass
class SetRound:
    """One round over a shard set: the URLs the CCADB array lists, and what each gave."""

    listed: Sequence[str]
    shards: dict[str, CrlSnapshot]  # url -> snapshot, for every URL fetched and parsed
    failures: list[FetchFailure] = field(default_factory=list)


@dataclass
class SetResult:
    findings: list[Finding] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)  # gone from every shard of its issuer


def check_completeness(current: SetRound, now: datetime | None = None) -> list[Finding]:
    """The shard set against the CCADB JSON array it was read from."""
    out: list[Finding] = []
    seen: set[str] = set()
    for url in current.listed:
        if url in seen:
            out.append(Finding(ERROR, "duplicate-url", url, "listed twice in the JSON array"))
        seen.add(url)
    for failure in current.failures:
        out.append(Finding(ERROR, "shard-unavailable", failure.url, failure.message))
    by_idp: dict[bytes, str] = {}
    issuers: dict[bytes, str] = {}
    for url in dict.fromkeys(current.listed):
        crl = current.shards.get(url)
        if crl is None:
            continue
        out.extend(check_single(crl, now))
        issuers.setdefault(crl.issuer, url)
        if crl.idp is None:
            out.append(
                Finding(ERROR, "idp-missing", url, "a CRL shard without issuingDistributionPoint")
            )
            continue
        if url not in crl.idp_uris:
            out.append(
                Finding(
                    ERROR,
                    "idp-url-mismatch",
                    url,
                    f"served at this URL but its IDP names {_uris(crl)} (BR 7.2.2.1)",
                )
            )
        other = by_idp.get(crl.idp)
        if other is not None:
            out.append(Finding(ERROR, "duplicate-shard", url, f"same IDP as the shard at {other}"))
        else:
            by_idp[crl.idp] = url
    if len(issuers) > 1:
        out.append(
            Finding(
                ERROR,
                "mixed-issuers",
                current.listed[0] if current.listed else "",
                f"the array's shards come from {len(issuers)} different issuers",
            )
        )
    return out


def compare_sets(
    previous: Mapping[str, CrlSnapshot],
    current: SetRound,
    now: datetime | None = None,
) -> SetResult:
    """A round against the previous snapshots (url -> snapshot; empty on the first round).

    Removals are collected per issuer across all shards: a serial counts as removed only
    when no current shard of its issuer lists it. A serial whose shard could not be
    fetched this round is not judged (its snapshot is kept by the caller)."""
    result = SetResult(findings=check_completeness(current, now))
    out = result.findings
    for url in previous:
        if url not in current.listed:
            out.append(
                Finding(
                    WARNING,
                    "shard-dropped",
                    url,
                    "no longer in the JSON array; its entries must be in another shard",
                )
            )
    current_serials: dict[bytes, set[str]] = {}
    earliest: dict[bytes, datetime] = {}  # per issuer, the earliest current thisUpdate
    for crl in current.shards.values():
        current_serials.setdefault(crl.issuer, set()).update(crl.entries)
        if crl.issuer not in earliest or crl.this_update < earliest[crl.issuer]:
            earliest[crl.issuer] = crl.this_update
    failed = {f.url for f in current.failures}
    for url, old in previous.items():
        if url in failed:
            continue
        new = current.shards.get(url)
        gone: dict[str, Entry]
        if new is not None:
            pair = compare_pair(old, new)
            out.extend(pair.findings)
            if not pair.comparable:
                continue
            gone = pair.removed
        else:
            gone = dict(old.entries)
        still = current_serials.get(old.issuer, set())
        for serial, entry in gone.items():
            if serial in still:
                holder = next(
                    u
                    for u, c in current.shards.items()
                    if c.issuer == old.issuer and serial in c.entries
                )
                out.append(
                    Finding(
                        WARNING,
                        "entry-moved",
                        url,
                        f"serial {serial} moved to the shard at {holder}; a certificate's "
                        "shard is fixed by its CRLDP",
                        serial,
                    )
                )
                continue
            first = new.this_update if new is not None else earliest.get(old.issuer)
            if first is None:
                continue  # no current shard of this issuer at all: reported as unavailable
            result.removed.append(Removal(url, serial, entry, old.issuer, old.this_update, first))
    return result


def _t(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} days" if days == int(days) else f"{days:.2f} days"


def _uris(crl: CrlSnapshot) -> str:
    if crl.idp is None:
        return "no IDP"
    return ", ".join(crl.idp_uris) or "an IDP without URI"
