"""The inventory listed: what `certs list` shows of the certificates a filter selects.

Counts are of distinct certificates (by SHA-256); precertificates are listed only when
asked for and never counted as certificates. The command picks columns and a format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.config import load_config
from certkeeper.errors import ConfigError
from certkeeper.store.database import connect, schema_is_current
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import CertificateRecord, PrecertificateRecord

CRTSH = "https://crt.sh/?sha256={}"


@dataclass(frozen=True)
class Listing:
    total: int  # every match, however many rows were asked for
    rows: list[dict[str, Any]]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open_inventory(home: Path) -> Inventory:
    config = load_config(home)
    engine = connect(config.database_url)
    if not schema_is_current(engine):
        engine.dispose()
        raise ConfigError(
            f"the inventory of CA home {home} is not at the current schema version; "
            "run `certkeeper db upgrade` (or `certkeeper init`) first"
        )
    return Inventory(engine)


def _cert_rows(inv: Inventory, certs: Iterable[CertificateRecord]) -> Iterator[dict[str, Any]]:
    names = {i.id: i.name for i in inv.issuers()}
    for c in certs:
        yield {
            "serial": c.serial,
            "issuer": names.get(c.issuer_id, str(c.issuer_id)),
            "not_before": _iso(c.not_before),
            "not_after": _iso(c.not_after),
            "key_type": c.key_type,
            "profile": f"{c.profile_id}:{c.profile_version}",
            "cps_version": c.cps_version,
            "subscriber_id": c.subscriber_id,
            "crl_shard": c.crl_shard,
            "subject_cn": c.subject_cn,
            "names": " ".join(c.names),
            "issued_at": _iso(c.issued_at),
            "sha256": c.sha256,
            "sha1": c.sha1,
            "crtsh": CRTSH.format(c.sha256),
        }


def _precert_rows(inv: Inventory, precerts: list[PrecertificateRecord]) -> Iterator[dict[str, Any]]:
    names = {i.id: i.name for i in inv.issuers()}
    states = inv.serial_states([p.serial for p in precerts])
    for p in precerts:
        yield {
            "serial": p.serial,
            "issuer": names.get(p.issuer_id, str(p.issuer_id)),
            "not_before": _iso(p.not_before),
            "not_after": _iso(p.not_after),
            "final": states.get(p.serial) == "issued",
            "created_at": _iso(p.created_at),
            "sha256": p.sha256,
            "tbs_sha256": p.tbs_sha256,
            "crtsh": CRTSH.format(p.sha256),
        }


def list_certificates(
    home: Path,
    flt: CertificateFilter,
    limit: int | None,
    *,
    precertificates: bool = False,
    without_final: bool = False,
) -> Listing:
    """Certificates (or precertificates) of the home at `home` matching `flt`, at most
    `limit` rows; opened and closed here (a listing needs no keys)."""
    inv = _open_inventory(home)
    try:
        if precertificates:
            total = inv.count_precertificates(flt, without_final=without_final)
            found = list(inv.list_precertificates(flt, limit, without_final=without_final))
            return Listing(total, list(_precert_rows(inv, found)))
        total = inv.count_certificates(flt)
        return Listing(total, list(_cert_rows(inv, inv.list_certificates(flt, limit))))
    finally:
        inv.engine.dispose()
