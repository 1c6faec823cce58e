"""The inventory repository: every issuer, profile version, serial and document the CA made.

Each write method is one transaction, so a crash or error leaves either all of a step
or none of it. The serial's life cycle is recorded in `serials.state`:
assigned -> precertificate -> issued, or failed from either of the first two. A serial's
uniqueness is the database's primary key, not a check in Python, so two processes can
never both hold the same one.

Methods that write accept `also`: a callable given the open connection, run inside the
same transaction. Status records (OCSP "good", CRL shard) use it so that they exist in
the very transaction that stores the serial or precertificate they describe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import CertkeeperError, NotFound
from certkeeper.store.database import write_transaction
from certkeeper.store.queries import (
    certificate_conditions,
    precertificate_conditions,
    reverse_name,
)
from certkeeper.store.records import (
    CertificateRecord,
    FindingRecord,
    IssuerRecord,
    PrecertificateRecord,
)
from certkeeper.store.tables import (
    certificate_names,
    certificates,
    issuers,
    lint_findings,
    precertificates,
    profile_versions,
    serials,
    subscribers,
)

Also = Callable[[Connection], None] | None

# Rows fetched per round trip when streaming listings (keyset pagination on id).
PAGE_SIZE = 1000

SERIAL_STATES = ("assigned", "precertificate", "issued", "failed")


class Conflict(CertkeeperError):
    """A write contradicts what the inventory already holds."""


class SerialCollision(Conflict):
    """The serial is already assigned: draw a new one (the database said so, not a guess)."""


def _check_serial(serial: str) -> None:
    if not (0 < len(serial) <= 40) or serial != serial.lower() or serial.startswith("0"):
        raise ValueError(f"serial {serial!r} is not lowercase hexadecimal without leading zeros")
    int(serial, 16)


def _reason(exc: IntegrityError) -> str:
    text = str(exc.orig).strip() if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else "integrity constraint violated"


def _issuer(row: Row[Any]) -> IssuerRecord:
    return IssuerRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        state=row.state,
        key_type=row.key_type,
        parent_id=row.parent_id,
        subject=row.subject,
        ski=row.ski,
        sha256=row.sha256,
        cert_der=bytes(row.cert_der),
        key_ref=row.key_ref,
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
    )


def _certificate(row: Row[Any], names: Iterable[str]) -> CertificateRecord:
    return CertificateRecord(
        id=row.id,
        serial=row.serial,
        issuer_id=row.issuer_id,
        der=bytes(row.der),
        sha256=row.sha256,
        sha1=row.sha1,
        not_before=row.not_before,
        not_after=row.not_after,
        key_type=row.key_type,
        profile_id=row.profile_id,
        profile_version=row.profile_version,
        cps_version=row.cps_version,
        subscriber_id=row.subscriber_id,
        crl_shard=row.crl_shard,
        subject_cn=row.subject_cn,
        issued_at=row.issued_at,
        names=tuple(sorted(names)),
    )


def _precertificate(row: Row[Any]) -> PrecertificateRecord:
    return PrecertificateRecord(
        serial=row.serial,
        issuer_id=row.issuer_id,
        der=bytes(row.der),
        sha256=row.sha256,
        tbs_sha256=row.tbs_sha256,
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
    )


def _finding(row: Row[Any]) -> FindingRecord:
    return FindingRecord(
        linter=row.linter,
        lint_id=row.lint_id,
        severity=row.severity,
        location=row.location,
        message=row.message,
        waived=bool(row.waived),
        waiver_justification=row.waiver_justification,
        waiver_expires=row.waiver_expires,
    )


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database did not report the new row's id")
    return int(key[0])


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


class Inventory:
    """Repository over one engine; holds no state besides it, so it is cheap to create."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- issuers -------------------------------------------------------------------

    def add_issuer(self, rec: IssuerRecord) -> IssuerRecord:
        values = {k: getattr(rec, k) for k in IssuerRecord.__slots__ if k != "id"}
        try:
            with write_transaction(self.engine) as conn:
                result = conn.execute(insert(issuers).values(**values))
                new_id = _new_id(result)
        except IntegrityError as exc:
            raise Conflict(f"cannot add issuer {rec.name!r}: {_reason(exc)}") from None
        return IssuerRecord(**{**values, "id": new_id})

    def issuers(self, role: str | None = None) -> list[IssuerRecord]:
        stmt = select(issuers).order_by(issuers.c.id)
        if role is not None:
            stmt = stmt.where(issuers.c.role == role)
        with self.engine.connect() as conn:
            return [_issuer(row) for row in conn.execute(stmt)]

    def issuer(self, id: int) -> IssuerRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(issuers).where(issuers.c.id == id)).first()
        if row is None:
            raise NotFound(f"no issuer with id {id}")
        return _issuer(row)

    def issuer_by_name(self, name: str) -> IssuerRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(issuers).where(issuers.c.name == name)).first()
        if row is None:
            known = ", ".join(i.name for i in self.issuers()) or "none"
            raise NotFound(f"no issuer named {name!r} (known issuers: {known})")
        return _issuer(row)

    def set_issuer_state(self, id: int, state: str) -> None:
        """Move an issuer between active, standby and retired (CA rotation)."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(update(issuers).where(issuers.c.id == id).values(state=state))
            if result.rowcount != 1:
                raise NotFound(f"no issuer with id {id}")

    def rotate_issuers(self, activate: int, retire: Sequence[int]) -> None:
        """Make one issuer active and retire others in one transaction, so there is never
        a moment with two active issuing CAs of a key type, or none."""
        with write_transaction(self.engine) as conn:
            for id_, state in [(activate, "active"), *((r, "retired") for r in retire)]:
                result = conn.execute(
                    update(issuers).where(issuers.c.id == id_).values(state=state)
                )
                if result.rowcount != 1:
                    raise NotFound(f"no issuer with id {id_}")

    # -- profiles and subscribers --------------------------------------------------

    def register_profile_version(
        self,
        profile_id: str,
        source: str,
        now: datetime,
        *,
        created_by: str | None = None,
        live: bool = True,
    ) -> tuple[int, bool]:
        """Store `source` as the next version unless it equals the latest one.

        Returns (version, created). Stored versions never change; a concurrent
        registration of the same id loses on the primary key and is retried. A version
        recorded with `live=False` waits for an approval (store.profile_control)."""
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
        pv = profile_versions.c
        attempts = 5
        for attempt in range(attempts):
            try:
                with write_transaction(self.engine) as conn:
                    latest = conn.execute(
                        select(pv.version, pv.sha256)
                        .where(pv.profile_id == profile_id)
                        .order_by(pv.version.desc())
                        .limit(1)
                    ).first()
                    if latest is not None and latest.sha256 == digest:
                        return int(latest.version), False
                    version = 1 if latest is None else int(latest.version) + 1
                    conn.execute(
                        insert(profile_versions).values(
                            profile_id=profile_id,
                            version=version,
                            sha256=digest,
                            source=source,
                            created_at=now,
                            created_by=created_by,
                            approved_at=now if live else None,
                        )
                    )
                return version, True
            except IntegrityError as exc:
                if attempt == attempts - 1:
                    raise Conflict(
                        f"cannot register profile {profile_id!r}: {_reason(exc)}"
                    ) from None
        raise AssertionError("unreachable")

    def profile_source(self, profile_id: str, version: int | None = None) -> tuple[int, str]:
        """(version, TOML text) of a stored profile; the latest version when None."""
        pv = profile_versions.c
        stmt = select(pv.version, pv.source).where(pv.profile_id == profile_id)
        if version is None:
            stmt = stmt.order_by(pv.version.desc()).limit(1)
        else:
            stmt = stmt.where(pv.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            which = f"profile {profile_id!r}" + ("" if version is None else f" version {version}")
            raise NotFound(f"no stored {which}")
        return int(row.version), str(row.source)

    def profile_versions(self) -> list[tuple[str, int, datetime]]:
        pv = profile_versions.c
        stmt = select(pv.profile_id, pv.version, pv.created_at).order_by(pv.profile_id, pv.version)
        with self.engine.connect() as conn:
            return [(r.profile_id, int(r.version), r.created_at) for r in conn.execute(stmt)]

    def ensure_subscriber(self, subscriber_id: str, now: datetime) -> None:
        """Create the subscriber row if missing; safe to call concurrently."""
        try:
            with write_transaction(self.engine) as conn:
                found = conn.execute(
                    select(subscribers.c.id).where(subscribers.c.id == subscriber_id)
                ).first()
                if found is None:
                    conn.execute(insert(subscribers).values(id=subscriber_id, created_at=now))
        except IntegrityError:
            # Another process created it between our read and our insert.
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(subscribers.c.id).where(subscribers.c.id == subscriber_id)
                ).first()
            if found is None:
                raise

    # -- serials -------------------------------------------------------------------

    def assign_serial(
        self,
        serial: str,
        issuer_id: int,
        profile_id: str,
        profile_version: int,
        crl_shard: int,
        now: datetime,
        *,
        also: Also = None,
    ) -> None:
        """Record a serial before anything bearing it is signed.

        Raises SerialCollision when the serial exists: the primary key decides."""
        _check_serial(serial)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(serials).values(
                        serial=serial,
                        issuer_id=issuer_id,
                        assigned_at=now,
                        state="assigned",
                        profile_id=profile_id,
                        profile_version=profile_version,
                        crl_shard=crl_shard,
                    )
                )
                if also is not None:
                    also(conn)
        except IntegrityError as exc:
            if self.serial_state(serial) is not None:
                raise SerialCollision(f"serial {serial} is already assigned") from None
            raise Conflict(f"cannot assign serial {serial}: {_reason(exc)}") from None

    def serial_state(self, serial: str) -> str | None:
        with self.engine.connect() as conn:
            state = conn.execute(select(serials.c.state).where(serials.c.serial == serial)).scalar()
        return None if state is None else str(state)

    def serial_states(self, serials_: Sequence[str]) -> dict[str, str]:
        """The state of each known serial among `serials_` (unknown ones are left out)."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(serials_), PAGE_SIZE):
                chunk = list(serials_[start : start + PAGE_SIZE])
                rows = conn.execute(
                    select(serials.c.serial, serials.c.state).where(serials.c.serial.in_(chunk))
                )
                out.update({str(s): str(st) for s, st in rows})
        return out

    def _advance(self, conn: Connection, serial: str, to: str, allowed: Sequence[str]) -> None:
        result = conn.execute(
            update(serials)
            .where(serials.c.serial == serial, serials.c.state.in_(allowed))
            .values(state=to)
        )
        if result.rowcount == 1:
            return
        state = conn.execute(select(serials.c.state).where(serials.c.serial == serial)).scalar()
        if state is None:
            raise NotFound(f"serial {serial} was never assigned")
        raise Conflict(f"serial {serial} is {state}; cannot move it to {to}")

    def mark_serial_failed(self, serial: str, reason: str, *, also: Also = None) -> None:
        """Record that issuance stopped; an issued serial can never become failed."""
        with write_transaction(self.engine) as conn:
            self._advance(conn, serial, "failed", ("assigned", "precertificate", "failed"))
            conn.execute(update(serials).where(serials.c.serial == serial).values(failure=reason))
            if also is not None:
                also(conn)

    # -- documents -----------------------------------------------------------------

    @staticmethod
    def _insert_findings(
        conn: Connection,
        serial: str,
        document: str,
        findings: Sequence[FindingRecord],
        now: datetime,
    ) -> None:
        if not findings:
            return
        conn.execute(
            insert(lint_findings),
            [
                {
                    "serial": serial,
                    "document": document,
                    "linter": f.linter,
                    "lint_id": f.lint_id,
                    "severity": f.severity,
                    "location": f.location,
                    "message": f.message,
                    "waived": f.waived,
                    "waiver_justification": f.waiver_justification,
                    "waiver_expires": f.waiver_expires,
                    "run_id": None,
                    "created_at": now,
                }
                for f in findings
            ],
        )

    def store_precertificate(
        self,
        rec: PrecertificateRecord,
        findings: Sequence[FindingRecord],
        *,
        also: Also = None,
    ) -> None:
        """Precertificate, serial state and findings: all or nothing."""
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(precertificates).values(
                        {k: getattr(rec, k) for k in PrecertificateRecord.__slots__}
                    )
                )
                self._advance(conn, rec.serial, "precertificate", ("assigned",))
                self._insert_findings(conn, rec.serial, "precertificate", findings, rec.created_at)
                if also is not None:
                    also(conn)
        except IntegrityError as exc:
            raise Conflict(
                f"cannot store precertificate for serial {rec.serial}: {_reason(exc)}"
            ) from None

    def store_certificate(
        self,
        rec: CertificateRecord,
        findings: Sequence[FindingRecord],
        *,
        also: Also = None,
    ) -> int:
        """Certificate, its names, findings and serial state: all or nothing. Returns its id."""
        values = {
            k: getattr(rec, k) for k in CertificateRecord.__slots__ if k not in ("id", "names")
        }
        try:
            with write_transaction(self.engine) as conn:
                result = conn.execute(insert(certificates).values(**values))
                cert_id = _new_id(result)
                names = _unique(rec.names)
                if names:
                    conn.execute(
                        insert(certificate_names),
                        [
                            {"certificate_id": cert_id, "name": n, "reversed_name": reverse_name(n)}
                            for n in names
                        ],
                    )
                self._insert_findings(conn, rec.serial, "certificate", findings, rec.issued_at)
                self._advance(conn, rec.serial, "issued", ("assigned", "precertificate"))
                if also is not None:
                    also(conn)
        except IntegrityError as exc:
            raise Conflict(
                f"cannot store certificate for serial {rec.serial}: {_reason(exc)}"
            ) from None
        return cert_id

    # -- reading documents -----------------------------------------------------------

    @staticmethod
    def _names(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {i: [] for i in ids}
        if not ids:
            return out
        rows = conn.execute(
            select(certificate_names.c.certificate_id, certificate_names.c.name).where(
                certificate_names.c.certificate_id.in_(ids)
            )
        )
        for cert_id, name in rows:
            out[cert_id].append(name)
        return out

    def certificate(
        self, serial: str | None = None, sha256: str | None = None
    ) -> CertificateRecord:
        """The final certificate with this serial or SHA-256 (give exactly one)."""
        if (serial is None) == (sha256 is None):
            raise ValueError("give exactly one of serial and sha256")
        cond = (
            certificates.c.serial == serial
            if serial is not None
            else certificates.c.sha256 == sha256
        )
        with self.engine.connect() as conn:
            row = conn.execute(select(certificates).where(cond)).first()
            if row is None:
                what = f"serial {serial}" if serial is not None else f"SHA-256 {sha256}"
                raise NotFound(f"no certificate with {what}")
            names = self._names(conn, [row.id])[row.id]
        return _certificate(row, names)

    def precertificate(self, serial: str) -> PrecertificateRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(precertificates).where(precertificates.c.serial == serial)
            ).first()
        if row is None:
            raise NotFound(f"no precertificate with serial {serial}")
        return _precertificate(row)

    def _check_issuer(self, flt: CertificateFilter) -> None:
        if flt.issuer is not None:
            self.issuer_by_name(flt.issuer)

    def list_certificates(
        self, flt: CertificateFilter, limit: int | None = None
    ) -> Iterator[CertificateRecord]:
        """Matching final certificates in issuance order, streamed page by page.

        An unknown issuer name raises NotFound here, before iteration starts."""
        self._check_issuer(flt)
        return self._iter_certificates(certificate_conditions(flt), limit)

    def _iter_certificates(
        self, conds: list[Any], limit: int | None
    ) -> Iterator[CertificateRecord]:
        last_id = 0
        remaining = limit
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            stmt = (
                select(certificates)
                .where(*conds, certificates.c.id > last_id)
                .order_by(certificates.c.id)
                .limit(size)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
                names = self._names(conn, [r.id for r in rows])
            for row in rows:
                yield _certificate(row, names[row.id])
            if len(rows) < size:
                return
            last_id = rows[-1].id
            if remaining is not None:
                remaining -= len(rows)

    def count_certificates(self, flt: CertificateFilter) -> int:
        """Distinct final certificates (by SHA-256) matching the filter."""
        self._check_issuer(flt)
        stmt = select(func.count(func.distinct(certificates.c.sha256))).where(
            *certificate_conditions(flt)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def _precert_conditions(self, flt: CertificateFilter, without_final: bool) -> list[Any]:
        self._check_issuer(flt)
        conds = precertificate_conditions(flt)
        if without_final:
            conds.append(
                ~select(certificates.c.id)
                .where(certificates.c.serial == precertificates.c.serial)
                .exists()
            )
        return conds

    def list_precertificates(
        self,
        flt: CertificateFilter,
        limit: int | None = None,
        *,
        without_final: bool = False,
    ) -> Iterator[PrecertificateRecord]:
        """Matching precertificates, never mixed with final certificates.

        without_final=True keeps only those whose serial has no final certificate
        (issuance stopped after logging, or is still in flight)."""
        conds = self._precert_conditions(flt, without_final)
        return self._iter_precertificates(conds, limit)

    def _iter_precertificates(
        self, conds: list[Any], limit: int | None
    ) -> Iterator[PrecertificateRecord]:
        last_id = 0
        remaining = limit
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            stmt = (
                select(precertificates)
                .where(*conds, precertificates.c.id > last_id)
                .order_by(precertificates.c.id)
                .limit(size)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
            for row in rows:
                yield _precertificate(row)
            if len(rows) < size:
                return
            last_id = rows[-1].id
            if remaining is not None:
                remaining -= len(rows)

    def count_precertificates(self, flt: CertificateFilter, *, without_final: bool = False) -> int:
        """Distinct precertificates (by SHA-256) matching the filter."""
        conds = self._precert_conditions(flt, without_final)
        stmt = select(func.count(func.distinct(precertificates.c.sha256))).where(*conds)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def findings_for(self, serial: str, document: str | None = None) -> list[FindingRecord]:
        """Findings stored for a serial's documents, oldest first; optionally one document."""
        stmt = select(lint_findings).where(lint_findings.c.serial == serial)
        if document is not None:
            stmt = stmt.where(lint_findings.c.document == document)
        with self.engine.connect() as conn:
            return [_finding(r) for r in conn.execute(stmt.order_by(lint_findings.c.id))]
