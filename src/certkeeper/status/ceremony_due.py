"""When the next key ceremony must sign the offline root's CA CRL (ARL).

An offline root's CRL is signed only in a ceremony (`ceremony crl`) and served as
`ca import-crl` installed it; its nextUpdate (at most twelve months on, BR 4.9.7) is the
time by which a newer one must be served. The ceremony is due CEREMONY_MARGIN before
that, time to gather the operator and witnesses, sign, carry the CRL over and install
it. `crl status` and the metrics show it; within the margin it is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from certkeeper import crl_files
from certkeeper.issuer_keys import OFFLINE_KEY

if TYPE_CHECKING:
    from certkeeper.store.inventory import Inventory

CEREMONY_MARGIN = timedelta(days=30)


@dataclass(frozen=True)
class CeremonyDue:
    root: str
    state: str  # ok | warning (within the margin) | overdue (past nextUpdate) | missing
    crl_number: int | None = None
    next_update: datetime | None = None
    due: datetime | None = None  # next_update - margin

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "state": self.state,
            "crl_number": self.crl_number,
            "next_update": None if self.next_update is None else self.next_update.isoformat(),
            "ceremony_due": None if self.due is None else self.due.isoformat(),
        }

    def sentence(self) -> str:
        if self.next_update is None or self.due is None:
            return (
                f"warning: no CA CRL of the offline root {self.root} is installed: sign one "
                "in a ceremony (`certkeeper ceremony crl`) and run `certkeeper ca import-crl`"
            )
        about = (
            f"(CA CRL #{self.crl_number} of {self.root}, nextUpdate "
            f"{self.next_update:%Y-%m-%d %H:%M} UTC)"
        )
        if self.state == "overdue":
            return f"warning: the CA CRL has expired {about}: a CA-CRL ceremony is overdue"
        lead = "warning: " if self.state == "warning" else ""
        return f"{lead}next CA-CRL ceremony due by {self.due:%Y-%m-%d %H:%M} UTC {about}"


def ceremony_due(
    crl_dir: Path, root: str, now: datetime, margin: timedelta = CEREMONY_MARGIN
) -> CeremonyDue:
    """The root's installed CA CRL against `now`; an unreadable file counts as missing."""
    path = crl_files.ca_crl_path(crl_dir, root)
    try:
        crl = x509.load_der_x509_crl(path.read_bytes())
    except (OSError, ValueError):
        return CeremonyDue(root, "missing")
    next_update = crl.next_update_utc
    if next_update is None:
        return CeremonyDue(root, "missing")
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    due = next_update - margin
    state = "overdue" if now >= next_update else "warning" if now >= due else "ok"
    return CeremonyDue(root, state, number, next_update, due)


def offline_roots(inventory: Inventory) -> list[str]:
    """Names of the roots whose key is offline (only theirs need a ceremony for a CRL)."""
    return [r.name for r in inventory.issuers(role="root") if r.key_ref == OFFLINE_KEY]


def ceremonies_due(
    inventory: Inventory, crl_dir: Path, now: datetime, margin: timedelta = CEREMONY_MARGIN
) -> list[CeremonyDue]:
    return [ceremony_due(crl_dir, name, now, margin) for name in offline_roots(inventory)]
