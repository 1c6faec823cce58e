"""Record builders for inventory tests (imported by test modules and conftest)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from certkeeper.store.inventory import Inventory
from certkeeper.store.records import (
    CertificateRecord,
    FindingRecord,
    IssuerRecord,
    PrecertificateRecord,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def sha(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def issuer_record(
    name: str = "tls-ecdsa-1", *, role: str = "issuing", parent_id: int | None = None
) -> IssuerRecord:
    der = f"issuer-der-{name}".encode()
    return IssuerRecord(
        id=None,
        name=name,
        role=role,
        state="active",
        key_type="ecdsa-p256",
        parent_id=parent_id,
        subject=f"CN={name},O=Example CA",
        ski=sha(der)[:40],
        sha256=sha(der),
        cert_der=der,
        key_ref=f"keys/{name}.pem",
        not_before=T0 - timedelta(days=365),
        not_after=T0 + timedelta(days=5 * 365),
        created_at=T0 - timedelta(days=365),
    )


@dataclass
class Builder:
    """Walks a serial through assign -> precertificate -> certificate with sane defaults."""

    inv: Inventory
    issuer_id: int
    counter: int = 0x1000
    profile_id: str = "tls-server-ecdsa"
    profile_version: int = 1
    defaults: dict[str, object] = field(default_factory=dict)

    def next_serial(self) -> str:
        self.counter += 1
        return f"{self.counter:x}"

    def assign(self, serial: str | None = None, **kw: object) -> str:
        serial = serial or self.next_serial()
        self.inv.assign_serial(
            serial,
            int(kw.get("issuer_id", self.issuer_id)),  # type: ignore[call-overload]
            str(kw.get("profile_id", self.profile_id)),
            int(kw.get("profile_version", self.profile_version)),  # type: ignore[call-overload]
            int(kw.get("crl_shard", 0)),  # type: ignore[call-overload]
            T0,
        )
        return serial

    def precert(self, serial: str, **kw: object) -> PrecertificateRecord:
        der = f"precert-{serial}".encode()
        values: dict[str, object] = {
            "serial": serial,
            "issuer_id": self.issuer_id,
            "der": der,
            "sha256": sha(der),
            "tbs_sha256": sha(b"tbs" + der),
            "not_before": T0,
            "not_after": T0 + timedelta(days=90),
            "created_at": T0,
        }
        values.update(kw)
        return PrecertificateRecord(**values)  # type: ignore[arg-type]

    def cert(self, serial: str, **kw: object) -> CertificateRecord:
        der = f"cert-{serial}".encode()
        values: dict[str, object] = {
            "serial": serial,
            "issuer_id": self.issuer_id,
            "der": der,
            "sha256": sha(der),
            "sha1": hashlib.sha1(der).hexdigest(),
            "not_before": T0,
            "not_after": T0 + timedelta(days=90),
            "key_type": "ecdsa-p256",
            "profile_id": self.profile_id,
            "profile_version": self.profile_version,
            "cps_version": "1.0",
            "subscriber_id": None,
            "crl_shard": 0,
            "subject_cn": "www.example.com",
            "issued_at": T0,
            "names": ("example.com", "www.example.com"),
        }
        values.update(self.defaults)
        values.update(kw)
        return CertificateRecord(**values)  # type: ignore[arg-type]

    def issue(
        self, *, precert: bool = True, findings: tuple[FindingRecord, ...] = (), **kw: object
    ) -> CertificateRecord:
        """A full issuance; keyword arguments override the final certificate's fields."""
        serial = self.assign(
            str(kw["serial"]) if "serial" in kw else None,
            **{k: kw[k] for k in ("profile_id", "profile_version", "issuer_id") if k in kw},
        )
        kw["serial"] = serial
        if precert:
            self.inv.store_precertificate(
                self.precert(
                    serial,
                    **{k: kw[k] for k in ("not_before", "not_after", "issuer_id") if k in kw},
                ),
                (),
            )
        rec = self.cert(**kw)  # type: ignore[arg-type]
        new_id = self.inv.store_certificate(rec, findings)
        return CertificateRecord(**{**{f: getattr(rec, f) for f in rec.__slots__}, "id": new_id})  # type: ignore[arg-type]
