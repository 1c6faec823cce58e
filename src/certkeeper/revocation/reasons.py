"""Revocation reasons and deadlines (BR 4.9.1.1, BR 7.2.2, RFC 5280 5.3.1), as data.

Pure: no clock, no database. Every BR 4.9.1.1 item carries its deadline and the
CRLReason it requires, so an incident's deadline and every revocation it causes follow
from the item it was opened under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from certkeeper.errors import InputError
from certkeeper.x509 import crl as crlenc


class CrlReason(IntEnum):
    """RFC 5280 5.3.1 CRLReason values."""

    unspecified = 0
    keyCompromise = 1
    cACompromise = 2
    affiliationChanged = 3
    superseded = 4
    cessationOfOperation = 5
    certificateHold = 6
    removeFromCRL = 8
    privilegeWithdrawn = 9
    aACompromise = 10


# BR 7.2.2: the only reasons a subscriber certificate's CRL entry may carry (the set the
# CRL encoder and the revocation store enforce); unspecified is expressed by leaving
# reasonCode out.
ALLOWED_REASONS = frozenset(
    {CrlReason.unspecified} | {CrlReason(r) for r in crlenc.SUBSCRIBER_REASONS}
)

DAY = timedelta(days=1)


@dataclass(frozen=True)
class BrItem:
    """One numbered circumstance of BR 4.9.1.1."""

    number: int
    summary: str
    deadline: timedelta
    reason: CrlReason


BR_4_9_1_1: tuple[BrItem, ...] = (
    BrItem(
        1, "subscriber requests revocation in writing without a reason", DAY, CrlReason.unspecified
    ),
    BrItem(2, "subscriber says the request was not authorized", DAY, CrlReason.privilegeWithdrawn),
    BrItem(3, "evidence of key compromise", DAY, CrlReason.keyCompromise),
    BrItem(
        4, "a method to compute the private key from the public key", DAY, CrlReason.keyCompromise
    ),
    BrItem(5, "domain validation should not be relied upon", DAY, CrlReason.superseded),
    BrItem(6, "key no longer complies with BR 6.1.5 / 6.1.6", 5 * DAY, CrlReason.superseded),
    BrItem(7, "certificate misused", 5 * DAY, CrlReason.privilegeWithdrawn),
    BrItem(8, "subscriber violated a material obligation", 5 * DAY, CrlReason.privilegeWithdrawn),
    BrItem(
        9,
        "use of the domain name no longer legally permitted",
        5 * DAY,
        CrlReason.cessationOfOperation,
    ),
    BrItem(
        10, "wildcard used for a misleading subordinate name", 5 * DAY, CrlReason.privilegeWithdrawn
    ),
    BrItem(
        11,
        "material change in the certificate's information",
        5 * DAY,
        CrlReason.privilegeWithdrawn,
    ),
    BrItem(12, "not issued per the BRs or the CA's CP/CPS", 5 * DAY, CrlReason.superseded),
    BrItem(
        13, "information in the certificate is inaccurate", 5 * DAY, CrlReason.privilegeWithdrawn
    ),
    BrItem(14, "the CA's right to issue ends", 5 * DAY, CrlReason.unspecified),
    BrItem(15, "required by the CA's CP/CPS for another reason", 5 * DAY, CrlReason.unspecified),
    BrItem(
        16,
        "a method exposes the private key or its generation was flawed",
        5 * DAY,
        CrlReason.keyCompromise,
    ),
)
_ITEMS = {item.number: item for item in BR_4_9_1_1}


def br_item(number: int) -> BrItem:
    try:
        return _ITEMS[number]
    except KeyError:
        raise InputError(
            f"BR 4.9.1.1 has items 1 to {len(BR_4_9_1_1)}; there is no item {number}"
        ) from None


def deadline(aware_at: datetime, item: int) -> datetime:
    """When every affected certificate must be revoked: 24 hours after the CA was made
    aware for items 1-5, 5 days for the rest. Computed in UTC, so a time given in any
    zone (or across a daylight-saving change) gives the same instant."""
    if aware_at.tzinfo is None:
        raise InputError("the aware-at time needs a time zone (e.g. 2026-11-23T09:00:00+01:00)")
    return aware_at.astimezone(UTC) + br_item(item).deadline


def parse_reason(text: str) -> CrlReason:
    """A reason by RFC 5280 name (any case) or number; refuses what BR 7.2.2 forbids."""
    cleaned = text.strip()
    reason: CrlReason | None = None
    if cleaned.isdigit():
        try:
            reason = CrlReason(int(cleaned))
        except ValueError:
            reason = None
    else:
        by_name = {r.name.lower(): r for r in CrlReason}
        reason = by_name.get(cleaned.lower().replace("_", "").replace("-", ""))
    if reason is None:
        names = ", ".join(r.name for r in sorted(ALLOWED_REASONS))
        raise InputError(f"unknown revocation reason {text!r}; use one of {names}")
    check_reason(reason)
    return reason


def check_reason(reason: CrlReason) -> None:
    if reason not in ALLOWED_REASONS:
        names = ", ".join(r.name for r in sorted(ALLOWED_REASONS))
        raise InputError(
            f"reason {reason.name} ({int(reason)}) is not allowed for subscriber certificates "
            f"(BR 7.2.2 allows {names})"
        )


def may_replace(current: CrlReason, new: CrlReason) -> bool:
    """Once revoked, a certificate's reason may only change to keyCompromise (BR 7.2.2:
    a CA may update the reason when it later learns of a key compromise)."""
    return new is CrlReason.keyCompromise and current is not CrlReason.keyCompromise


def encoded_reason(reason: CrlReason) -> int | None:
    """The reasonCode to encode: none at all for unspecified (BR 7.2.2)."""
    return None if reason is CrlReason.unspecified else int(reason)
