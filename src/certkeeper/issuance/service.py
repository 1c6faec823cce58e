"""Issuance: the order of operations that makes a mis-issued certificate impossible.

    0. refuse a compromised or weak key (hook)   -> blocked-key table, BR 6.1.1.3 arithmetic
       authorize every name (hook)                -> domain validation record and CAA now
    1. assign a serial (CSPRNG) and store it      -> the database enforces uniqueness
    2. build the precertificate TBS from the profile
    3. sign a linting copy with a throwaway key   -> nothing trusted has signed yet
    4. lint it with both linters; refuse on any unwaived ERROR/FATAL (serial -> failed)
    5. sign the serial's OCSP "good" response (delegated responder; linted)
    6. sign the *same TBS bytes* with the issuer key -> the precertificate; check its TBS
       equals the linted TBS, byte for byte; store it and the OCSP response in ONE
       transaction (the CRL shard was fixed with the serial and is in the CRLDP)
    7. obtain SCTs (hook: `SctSource`), build the final TBS, lint it with both linters
    8. sign and store the final certificate with its profile and CPS versions

Each step is persisted before the next, so a crash leaves a serial whose state says
how far it got (assigned / precertificate / issued / failed), never a signed
certificate the inventory does not know.

The safety hooks (name authorizer, key checker) are required: `certkeeper.wiring` builds
them. A non-public home (`init --non-public`) passes `NonPublicHierarchy` as its name
authorizer; a public home refuses it, and a home whose configuration disagrees with what
its hierarchy was created as refuses to issue at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper import br
from certkeeper.auditlog.record import audited_issuance
from certkeeper.ct.compliance import CtCompliance, SctsUnavailable
from certkeeper.ct.sct import decode_sct_list
from certkeeper.ct.tls import TlsDecodeError
from certkeeper.errors import ConfigError, InputError, IssuanceRefused
from certkeeper.issuance import tbs as tbsmod
from certkeeper.issuance.csr import ParsedCsr, normalize_name
from certkeeper.issuance.final import final_from_precertificate
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.lint.context import LintContext
from certkeeper.lint.engine import CertType, Finding
from certkeeper.lint.gate import GateResult, LintGate
from certkeeper.lint.waivers import Waiver
from certkeeper.metrics import counted_issuance
from certkeeper.profiles.schema import Profile
from certkeeper.signing.tbs import linting_copy, sign_tbs
from certkeeper.store.inventory import SerialCollision
from certkeeper.store.records import CertificateRecord, FindingRecord, PrecertificateRecord
from certkeeper.store.scts import SctRecord, SctStore
from certkeeper.validation.ip_identifiers import is_ip
from certkeeper.x509.signer import Signer, key_type_of
from certkeeper.x509.tbs import same_certificate_content
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.auditlog.record import Home as AuditHome
    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.config import Config
    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.store.blocked_keys import HierarchyStore
    from certkeeper.store.ocsp_repo import OcspRecord
    from certkeeper.store.stores import Stores


@dataclass(frozen=True)
class IssueRequest:
    csr: ParsedCsr
    profile_id: str
    subscriber_id: str | None = None
    names: tuple[str, ...] | None = None  # restrict to these (each must be in the CSR)


@dataclass(frozen=True)
class Issued:
    serial: str
    der: bytes
    precertificate_der: bytes
    chain: tuple[bytes, ...]  # issuing CA certificate(s), nearest first
    sha256: str
    profile: str
    waived: tuple[Finding, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class SctSource(Protocol):
    """Hook for Certificate Transparency: submit a precertificate, return the
    TLS-encoded SignedCertificateTimestampList to embed (RFC 6962 3.3), or None."""

    def __call__(self, precertificate_der: bytes) -> bytes | None: ...


def no_scts(precertificate_der: bytes) -> bytes | None:
    return None


class SctsPending(SctsUnavailable):
    """No final certificate was signed for want of SCTs; the precertificate keeps its
    serial state and OCSP status, `ct_pending` says why, and `resume` completes it."""

    def __init__(self, serial: str, reason: str) -> None:
        super().__init__(
            f"{reason}; the precertificate keeps its status and waits: complete it with "
            f"`certkeeper issue --resume {serial}`"
        )
        self.serial = serial


@dataclass(frozen=True)
class _FinalJob:
    """Everything the steps after the precertificate need (issue and resume alike)."""

    record: CertificateRecord  # der and hashes still empty
    pre_der: bytes
    linted_tbs: bytes  # the precertificate's TBS, which the final one must match
    build_final: Callable[[bytes | None], x509.CertificateBuilder]
    issuer_key_type: str
    issuer_der: bytes
    signer: Signer
    ctx: LintContext
    waivers: dict[str, Waiver]
    profile_label: str
    waived_before: tuple[Finding, ...]


Step = Callable[[str], None]

# Called with the certificate's names before a serial is assigned; raises NameNotAuthorized
# for a name without a valid domain validation record or whose CAA forbids issuance now.
NameAuthorizer = Callable[[Sequence[str]], None]


class NonPublicHierarchy:
    """The name authorizer of a non-public home (demos, private PKI): names are not
    domain-validated. IssuanceService refuses it in a public home."""

    def __call__(self, names: Sequence[str]) -> None:
        return None


class KeyRefused(IssuanceRefused):
    """The subscriber key is compromised or weak (BR 6.1.1.3); `rule` names the check."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"key refused ({rule}): {detail}")
        self.rule = rule
        self.detail = detail


class KeyChecker(Protocol):
    """Raises KeyRefused for a public key that must not be certified."""

    def __call__(self, key: object) -> None: ...


def check_hierarchy(
    config: Config, hierarchy: HierarchyStore, name_authorizer: NameAuthorizer
) -> None:
    """ConfigError unless the configuration, the hierarchy and the authorizer agree on
    public or non-public: the two never mix."""
    public = config.public
    recorded = hierarchy.public()
    created = True if recorded is None else recorded
    if created != public:
        made = "a public" if created else "a non-public"
        said = "public" if public else "non-public"
        raise ConfigError(
            f"{config.config_path} says the home is {said}, but its hierarchy was created "
            f"as {made} one; a hierarchy cannot change sides (create a new home)"
        )
    if public and isinstance(name_authorizer, NonPublicHierarchy):
        raise ConfigError(
            "a public home cannot issue without domain authorization (NonPublicHierarchy "
            "is only for homes created with `init --non-public`)"
        )


class StatusSigner(Protocol):
    """Signs a serial's OCSP response (`status.ocsp.OcspSigner`); nothing is stored."""

    def sign_status(
        self, issuer_id: int, serial: str, *, not_after: datetime, now: datetime
    ) -> OcspRecord:
        """Raises `status.ocsp.OcspSigningError` when the response's lints object."""
        ...


class IssuanceService:
    """Built by `certkeeper.wiring` only: the hooks are required, and the parts are the
    ones issuance touches (the inventory, OCSP, SCT and hierarchy stores, whose writes
    share transactions; issuer keys; profiles)."""

    def __init__(
        self,
        *,
        config: Config,
        stores: Stores,
        issuers: IssuerKeys,
        profiles: ProfileRegistry,
        status_signer: StatusSigner,
        audit: AuditHome,
        name_authorizer: NameAuthorizer,
        key_checker: KeyChecker,
        sct_source: SctSource,
        gate: LintGate | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_step: Step | None = None,
    ) -> None:
        check_hierarchy(config, stores.hierarchy, name_authorizer)
        self.config = config
        self.inventory = stores.inventory
        self.issuers = issuers
        self.profiles = profiles
        self.status_signer = status_signer
        self.audit = audit  # where audited_issuance records what happened
        self.name_authorizer = name_authorizer
        self.key_checker = key_checker
        self.gate = gate if gate is not None else LintGate(config.use_pkilint)
        self.clock = clock
        self.sct_source = sct_source
        self.on_step = on_step  # fault-injection and timing hook: called before each step
        self._ocsp_store = stores.ocsp
        self._sct_store = stores.scts
        # the second CT lock: in a public home the final certificate's SCTs are checked
        # here too, whatever `sct_source` is (docs/ct.md)
        self._ct = CtCompliance.for_home(config.ct, config.home) if config.public else None

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    @audited_issuance  # certificate.issued / issuance.refused in the audit log
    @counted_issuance  # metrics and a structured log line
    def issue(self, request: IssueRequest) -> Issued:
        inventory, config, issuers = self.inventory, self.config, self.issuers
        profile = self.profiles.for_issuance(request.profile_id)
        csr = request.csr
        if csr.key_type not in profile.subscriber_key_types:
            raise IssuanceRefused(
                f"profile {profile.label} allows {', '.join(profile.subscriber_key_types)} keys; "
                f"the CSR has a {csr.key_type} key"
            )
        names = _select_names(csr, request.names, profile)
        self._step("check_key")
        self.key_checker(csr.public_key)
        self._step("authorize_names")
        self.name_authorizer(names)
        issuer = issuers.active_issuer(profile.issuer_key_type)
        issuer_cert = issuers.issuer_certificate(issuer)
        signer = issuers.signer(issuer)
        now = truncate(self.clock())
        not_before = now - timedelta(seconds=profile.backdate_seconds)
        not_after = br.not_after_for(not_before, profile.validity_days)
        limit = br.max_subscriber_validity_days(not_before)
        if profile.validity_days > limit:
            raise IssuanceRefused(
                f"profile {profile.label} asks for {profile.validity_days} days; BR 6.3.2 allows "
                f"{limit} days for certificates issued on {not_before.date().isoformat()}"
            )
        if not_after > issuer_cert.not_valid_after_utc:
            raise IssuanceRefused(f"issuer {issuer.name} expires before the certificate would")
        if request.subscriber_id is not None:
            inventory.ensure_subscriber(request.subscriber_id, now)

        self._step("assign_serial")
        assert issuer.id is not None
        serial, shard = self._assign(issuer.id, profile, now)
        hexserial = serial_hex(serial)
        inputs = tbsmod.TbsInputs(
            serial=serial,
            names=names,
            public_key=csr.public_key,
            not_before=not_before,
            not_after=not_after,
            issuer_subject=issuer_cert.subject,
            issuer_ski=bytes.fromhex(issuer.ski),
            issuer_name=issuer.name,
            base_url=config.base_url,
            crl_shard=shard,
        )
        ctx = LintContext(issuer=issuer_cert, expectations=tbsmod.expectations(profile, inputs))
        waivers = config.waivers_in_force(now)
        try:
            self._step("lint_precertificate")
            pre_builder = tbsmod.build(profile, inputs, precertificate=True)
            pre_copy = linting_copy(pre_builder, issuer.key_type)
            pre_gate = self.gate.check_certificate(
                _der(pre_copy), CertType.PRECERTIFICATE, ctx, waivers
            )
            _refuse_unless_passed(pre_gate, "precertificate", hexserial)
            linted_tbs = pre_copy.tbs_certificate_bytes

            # Status before the precertificate exists (seed 003): the OCSP "good" response
            # is signed now and committed with the precertificate record, so no serial is
            # ever logged to CT without a status, and no status exists without a precertificate.
            self._step("sign_ocsp")
            assert issuer.id is not None
            ocsp_record = self.status_signer.sign_status(
                issuer.id, hexserial, not_after=not_after, now=now
            )

            self._step("sign_precertificate")
            pre_der = sign_tbs(linted_tbs, signer)
            signed_tbs = x509.load_der_x509_certificate(pre_der).tbs_certificate_bytes
            if signed_tbs != linted_tbs:
                raise IssuanceRefused(
                    f"serial {hexserial}: the signed precertificate's TBS differs from the "
                    "linted one"
                )
            self._step("store_precertificate")
            inventory.store_precertificate(
                PrecertificateRecord(
                    serial=hexserial,
                    issuer_id=issuer.id,
                    der=pre_der,
                    sha256=hashlib.sha256(pre_der).hexdigest(),
                    tbs_sha256=hashlib.sha256(linted_tbs).hexdigest(),
                    not_before=not_before,
                    not_after=not_after,
                    created_at=now,
                ),
                _finding_records(pre_gate),
                also=lambda conn: self._ocsp_store.put(ocsp_record, conn),
            )

        except IssuanceRefused as exc:
            inventory.mark_serial_failed(hexserial, str(exc))
            raise
        record = CertificateRecord(
            serial=hexserial,
            issuer_id=issuer.id,
            der=b"",
            sha256="",
            sha1="",
            not_before=not_before,
            not_after=not_after,
            key_type=csr.key_type,
            profile_id=profile.id,
            profile_version=profile.version,
            cps_version=config.cps_version,
            subscriber_id=request.subscriber_id,
            crl_shard=shard,
            subject_cn=names[0] if profile.common_name == "first_san" else None,
            issued_at=now,
            names=names,
        )
        return self._finish(
            _FinalJob(
                record=record,
                pre_der=pre_der,
                linted_tbs=linted_tbs,
                build_final=lambda scts: tbsmod.build(
                    profile, inputs, precertificate=False, sct_list=scts
                ),
                issuer_key_type=issuer.key_type,
                issuer_der=issuer.cert_der,
                signer=signer,
                ctx=ctx,
                waivers=waivers,
                profile_label=profile.label,
                waived_before=tuple(f for f, _ in pre_gate.waived),
            )
        )

    @audited_issuance
    @counted_issuance
    def resume(self, serial: str) -> Issued:
        """Complete a precertificate that waits for SCTs (`issue --resume`).

        The final certificate is built from the stored precertificate itself (its DER
        fields and extensions, the SCT list in the poison's place) and goes through the
        same steps as in `issue`: SCTs, both linters, the RFC 6962 3.1 TBS check."""
        inventory, issuers = self.inventory, self.issuers
        serial = serial.strip().lower().replace(":", "").lstrip("0") or "0"
        pending = self._sct_store.pending(serial)
        if pending.state != "precertificate":
            raise IssuanceRefused(
                f"serial {serial} is {pending.state}; only a precertificate waiting for SCTs "
                "can be resumed"
            )
        pre_rec = inventory.precertificate(serial)
        pre = x509.load_der_x509_certificate(pre_rec.der)
        issuer = inventory.issuer(pending.issuer_id)
        profile = self.profiles.get(pending.profile_id, pending.profile_version)
        expectations = tbsmod.profile_expectations(
            profile, self.config.base_url, issuer.name, pending.crl_shard
        )
        now = truncate(self.clock())
        names = tuple(
            pre.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
        )
        cn = [a.value for a in pre.subject if a.oid == x509.NameOID.COMMON_NAME]
        record = CertificateRecord(
            serial=serial,
            issuer_id=pending.issuer_id,
            der=b"",
            sha256="",
            sha1="",
            not_before=pre_rec.not_before,
            not_after=pre_rec.not_after,
            key_type=key_type_of(pre.public_key()),
            profile_id=profile.id,
            profile_version=profile.version,
            cps_version=pending.cps_version,
            subscriber_id=pending.subscriber_id,
            crl_shard=pending.crl_shard,
            subject_cn=str(cn[0]) if cn else None,
            issued_at=now,
            names=names,
        )
        return self._finish(
            _FinalJob(
                record=record,
                pre_der=pre_rec.der,
                linted_tbs=pre.tbs_certificate_bytes,
                build_final=lambda scts: final_from_precertificate(pre, scts),
                issuer_key_type=issuer.key_type,
                issuer_der=issuer.cert_der,
                signer=issuers.signer(issuer),
                ctx=LintContext(
                    issuer=issuers.issuer_certificate(issuer), expectations=expectations
                ),
                waivers=self.config.waivers_in_force(now),
                profile_label=profile.label,
                waived_before=(),
            )
        )

    def _finish(self, job: _FinalJob) -> Issued:
        """Steps 7 and 8: SCTs, the final certificate linted, signed and stored."""
        inventory, serial = self.inventory, job.record.serial
        try:
            self._step("collect_scts")
            sct_list = self._collect_scts(job)
            scts = _sct_records(sct_list, serial)
            self._step("lint_certificate")
            final_copy = linting_copy(job.build_final(sct_list), job.issuer_key_type)
            final_gate = self.gate.check_certificate(
                _der(final_copy), CertType.SUBSCRIBER, job.ctx, job.waivers
            )
            _refuse_unless_passed(final_gate, "certificate", serial)

            final_tbs = final_copy.tbs_certificate_bytes
            if not same_certificate_content(job.linted_tbs, final_tbs):
                raise IssuanceRefused(
                    f"serial {serial}: the final TBS differs from the precertificate's by more "
                    "than the poison and SCT extensions (RFC 6962 3.1)"
                )
            self._step("sign_certificate")
            final_der = sign_tbs(final_tbs, job.signer)
        except SctsPending:
            raise
        except IssuanceRefused as exc:
            inventory.mark_serial_failed(serial, str(exc))
            raise

        self._step("store_certificate")
        sha256 = hashlib.sha256(final_der).hexdigest()
        record = replace(
            job.record, der=final_der, sha256=sha256, sha1=hashlib.sha1(final_der).hexdigest()
        )
        inventory.store_certificate(
            record,
            _finding_records(final_gate),
            also=lambda conn: SctStore.put(conn, serial, scts),
        )
        return Issued(
            serial=serial,
            der=final_der,
            precertificate_der=job.pre_der,
            chain=(job.issuer_der,),
            sha256=sha256,
            profile=job.profile_label,
            waived=job.waived_before + tuple(f for f, _ in final_gate.waived),
        )

    def _collect_scts(self, job: _FinalJob) -> bytes | None:
        """The hook's SCT list; when it cannot meet the policy the precertificate waits."""
        try:
            sct_list = self.sct_source(job.pre_der)
            if self._ct is not None:
                issuer = job.ctx.issuer or x509.load_der_x509_certificate(job.issuer_der)
                problem = self._ct.problem(sct_list, job.pre_der, issuer)
                if problem is not None:
                    raise SctsUnavailable(f"serial {job.record.serial}: {problem}")
        except SctsUnavailable as exc:
            serial = job.record.serial
            self._sct_store.mark_pending(
                serial,
                subscriber_id=job.record.subscriber_id,
                cps_version=job.record.cps_version,
                reason=str(exc),
                now=job.record.issued_at,
            )
            raise SctsPending(serial, str(exc)) from None
        return sct_list

    def _assign(self, issuer_id: int, profile: Profile, now: datetime) -> tuple[int, int]:
        inventory = self.inventory
        for _ in range(3):  # a collision of 126 random bits means a broken RNG; retry anyway
            serial = new_serial()
            shard = shard_for(serial, self.config.crl_shards)
            try:
                inventory.assign_serial(
                    serial_hex(serial), issuer_id, profile.id, profile.version, shard, now
                )
            except SerialCollision:
                continue
            return serial, shard
        raise IssuanceRefused("three serial collisions in a row: the random source is suspect")


def _select_names(
    csr: ParsedCsr, wanted: tuple[str, ...] | None, profile: Profile
) -> tuple[str, ...]:
    names = csr.names
    if wanted is not None:
        chosen = tuple(dict.fromkeys(normalize_name(n) for n in wanted))
        missing = [n for n in chosen if n not in csr.names]
        if missing:
            raise InputError(
                f"--san {', '.join(missing)} not in the CSR (the CSR asks for "
                f"{', '.join(csr.names) or 'no names'})"
            )
        names = chosen
    if not names:
        raise InputError(
            "the CSR names nothing (no subjectAltName dNSName or iPAddress, no commonName)"
        )
    if len(names) > profile.san.max_names:
        raise IssuanceRefused(
            f"{len(names)} names requested; profile {profile.label} allows {profile.san.max_names}"
        )
    for name in names:
        if not name.isascii():
            raise InputError(f"name {name!r} is not ASCII; request IDNs in their xn-- A-label form")
        if "*" in name and not profile.san.allow_wildcards:
            raise IssuanceRefused(f"wildcard name {name!r}: profile {profile.label} allows none")
        if is_ip(name) and not profile.san.allow_ip_addresses:
            raise IssuanceRefused(
                f"IP address {name}: profile {profile.label} allows no IP addresses"
            )
    return names


class LintRefused(IssuanceRefused):
    """The lint gate stopped issuance; `findings` are the unwaived ERROR/FATAL ones."""

    def __init__(self, message: str, findings: list[Finding], serial: str) -> None:
        super().__init__(message)
        self.findings = findings
        self.serial = serial


def _refuse_unless_passed(result: GateResult, what: str, serial: str) -> None:
    if not result.passed:
        raise LintRefused(
            f"lint gate refused the {what} (serial {serial}): {result.summary()}",
            result.blocking,
            serial,
        )


def _finding_records(result: GateResult) -> Sequence[FindingRecord]:
    records = [
        FindingRecord(
            linter=f.linter,
            lint_id=f.lint_id,
            severity=str(f.severity),
            location=f.location,
            message=f.message,
            waived=True,
            waiver_justification=w.justification,
            waiver_expires=datetime(w.expires.year, w.expires.month, w.expires.day, tzinfo=UTC),
        )
        for f, w in result.waived
    ]
    records += [
        FindingRecord(f.linter, f.lint_id, str(f.severity), f.location, f.message, waived=False)
        for f in result.other
    ]
    return records


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _sct_records(sct_list: bytes | None, serial: str) -> list[SctRecord]:
    """The SCTs to store with the certificate: log id, timestamp and signature each."""
    if sct_list is None:
        return []
    try:
        scts = decode_sct_list(sct_list)
    except TlsDecodeError as exc:
        raise IssuanceRefused(f"serial {serial}: the SCT hook returned a bad list: {exc}") from None
    return [SctRecord(s.log_id.hex(), s.timestamp, s.digitally_signed(), s.encode()) for s in scts]
