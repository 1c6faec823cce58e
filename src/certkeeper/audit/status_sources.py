"""The inputs of the status audits: which serials, which issuers, which CRLs.

Two ways to say which serials to audit:

- our own CA (`from_inventory`): every assigned serial, with what the inventory
  expects (issued and maybe revoked, or assigned but never signed for);
- another CA (`from_certificates`): a directory of certificates or precertificates
  (PEM or DER, any mix) and the issuing CA's certificate. Their OCSP URL (AIA) and
  CRL distribution point (CRLDP) come from the certificates when not given.

CRLs are loaded once (`CrlIndex`), from a directory, a CRL URL, a CCADB JSON list of
partitioned CRLs, or a base URL under which `<issuer>.json` lists the shards, and
indexed by their issuingDistributionPoint URI (which BR 7.2.2.1 makes byte-identical
to the CRLDP in the certificates of that shard). A CRL without an IDP is a full CRL
and covers every certificate of its issuer. Every CRL is checked against its issuer's
key before it is believed.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from certkeeper.audit.coverage_model import (
    CRL_NOT_LISTED,
    CRL_NOT_LOADED,
    AuditFinding,
    CrlView,
    Kind,
    Revoked,
)
from certkeeper.errors import InputError
from certkeeper.x509.oids import OID_CT_POISON

PRECERT_POISON = x509.ObjectIdentifier(OID_CT_POISON)
HTTP_TIMEOUT = 30.0
MAX_CRL_BYTES = 1 << 30


class AuditInputError(InputError):
    """Bad audit input (a missing file, a certificate that does not parse, a bad URL):
    exit 1 (bad input), apart from 4 (the audit ran and found problems)."""


@dataclass(frozen=True, slots=True)
class IssuerInfo:
    """An issuing CA as the audits need it."""

    name: str
    cert_der: bytes
    cert: x509.Certificate


@dataclass(frozen=True, slots=True)
class ForeignCertificate:
    """A certificate or precertificate of another CA, read from a file."""

    path: Path
    serial: int
    precertificate: bool
    not_after: datetime
    ocsp_urls: tuple[str, ...]
    crl_urls: tuple[str, ...]
    issuer_matches: bool


def issuer_info(name: str, cert_der: bytes) -> IssuerInfo:
    return IssuerInfo(name, cert_der, x509.load_der_x509_certificate(cert_der))


def _certs_in(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise AuditInputError(f"{path}: not a PEM or DER certificate ({exc})") from None


def load_issuer(path: Path) -> IssuerInfo:
    """The issuing CA certificate from a PEM or DER file (the first one in a PEM file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditInputError(f"cannot read issuer certificate {path}: {exc.strerror}") from None
    cert = _certs_in(data, path)[0]
    from cryptography.hazmat.primitives.serialization import Encoding

    return IssuerInfo(_issuer_label(cert), cert.public_bytes(Encoding.DER), cert)


def _issuer_label(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else cert.subject.rfc4514_string()


def _ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        str(d.access_location.value)
        for d in aia.value
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        str(n.value)
        for dp in ext.value
        for n in dp.full_name or ()
        if isinstance(n, x509.UniformResourceIdentifier)
    )


def _is_precertificate(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_oid(PRECERT_POISON)
    except x509.ExtensionNotFound:
        return False
    return True


def load_certificates(directory: Path, issuer: IssuerInfo) -> list[ForeignCertificate]:
    """Every certificate and precertificate in `directory` (recursively; PEM files may
    hold several). Files that are not certificates are an input error, named."""
    if not directory.is_dir():
        raise AuditInputError(f"--certs {directory} is not a directory")
    out: list[ForeignCertificate] = []
    seen: set[int] = set()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AuditInputError(f"cannot read {path}: {exc.strerror}") from None
        for cert in _certs_in(data, path):
            serial = cert.serial_number
            if serial in seen:  # a precertificate and its certificate share the serial
                continue
            seen.add(serial)
            out.append(
                ForeignCertificate(
                    path=path,
                    serial=serial,
                    precertificate=_is_precertificate(cert),
                    not_after=cert.not_valid_after_utc,
                    ocsp_urls=_ocsp_urls(cert),
                    crl_urls=_crl_urls(cert),
                    issuer_matches=cert.issuer == issuer.cert.subject,
                )
            )
    if not out:
        raise AuditInputError(f"--certs {directory} holds no certificates")
    return out


# -- CRLs -----------------------------------------------------------------------------


@dataclass
class _LoadedCrl:
    source: str
    issuer: str
    idp_urls: tuple[str, ...]
    entries: dict[int, Revoked]


@dataclass
class CrlIndex:
    """Revoked serials of every loaded CRL, by IDP URI and, for full CRLs, by issuer."""

    by_url: dict[str, dict[int, Revoked]] = field(default_factory=dict)
    full: dict[str, dict[int, Revoked]] = field(default_factory=dict)
    findings: list[AuditFinding] = field(default_factory=list)
    loaded: int = 0
    entries: int = 0
    failed_urls: set[str] = field(default_factory=set)
    ignored: int = 0  # CRLs of CAs that are not audited

    def covers(self, issuer: str, url: str | None) -> bool:
        return (url is not None and url in self.by_url) or issuer in self.full

    def lookup(self, issuer: str, url: str | None, serial: int) -> CrlView:
        shard = self.by_url.get(url) if url is not None else None
        if shard is None:
            shard = self.full.get(issuer)
        if shard is None:
            return CRL_NOT_LOADED
        entry = shard.get(serial)
        return CRL_NOT_LISTED if entry is None else CrlView(True, entry)

    def add(self, crl: _LoadedCrl) -> None:
        self.loaded += 1
        self.entries += len(crl.entries)
        if crl.idp_urls:
            for url in crl.idp_urls:
                self.by_url.setdefault(url, {}).update(crl.entries)
        else:
            self.full.setdefault(crl.issuer, {}).update(crl.entries)


def _reason(entry: x509.RevokedCertificate) -> int | None:
    try:
        ext = entry.extensions.get_extension_for_class(x509.CRLReason)
    except x509.ExtensionNotFound:
        return None
    return _REASON_CODES.get(ext.value.reason)


_REASON_CODES = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}


def parse_crl(
    data: bytes, source: str, issuers: Iterable[IssuerInfo]
) -> _LoadedCrl | AuditFinding | None:
    """A CRL checked against its issuer, a `crl-invalid` finding saying why not, or
    None for a CRL of a CA that is not audited (a root's CRL in the same directory)."""
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_crl(data)
        )
    except ValueError as exc:
        return AuditFinding(Kind.crl_invalid, None, "", f"{source}: not a CRL ({exc})")
    issuer = next((i for i in issuers if i.cert.subject == crl.issuer), None)
    if issuer is None:
        return None
    try:
        valid = crl.is_signature_valid(issuer.cert.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        valid = False
    if not valid:
        return AuditFinding(
            Kind.crl_invalid,
            None,
            issuer.name,
            f"{source}: signature does not verify with the issuer's key",
        )
    idp_urls: tuple[str, ...] = ()
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
        idp_urls = tuple(
            str(n.value)
            for n in idp.full_name or ()
            if isinstance(n, x509.UniformResourceIdentifier)
        )
        if idp.only_contains_ca_certs:
            idp_urls = idp_urls or ("ca-certificates:" + issuer.name,)
    except x509.ExtensionNotFound:
        pass
    entries: dict[int, Revoked] = {}
    try:
        for entry in crl:
            entries[entry.serial_number] = Revoked(entry.revocation_date_utc, _reason(entry))
    except ValueError as exc:
        return AuditFinding(Kind.crl_invalid, None, issuer.name, f"{source}: bad entry ({exc})")
    return _LoadedCrl(source, issuer.name, idp_urls, entries)


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "certkeeper-audit"})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        data: bytes = response.read(MAX_CRL_BYTES + 1)
    if len(data) > MAX_CRL_BYTES:
        raise OSError(f"larger than {MAX_CRL_BYTES} octets")
    return data


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def load_crls(
    sources: Iterable[str],
    issuers: list[IssuerInfo],
    *,
    shard_urls: Sequence[str] = (),
    fetch_retries: int = 2,
) -> CrlIndex:
    """Load every CRL `sources` name: directories (every `*.crl` in them), CRL files or
    URLs, CCADB JSON lists of partitioned CRLs (file or URL), or a mirror: a URL with
    no `.crl`/`.json` path, from which every URL in `shard_urls` (the CRLDPs of the
    audited certificates) is fetched with its scheme, host and port replaced.

    A CRL that cannot be fetched or verified is a finding; a missing directory or a
    malformed source is an input error."""
    index = CrlIndex()
    for source in sources:
        if _is_url(source):
            for url in _expand_url(source, index, shard_urls, fetch_retries):
                _load_url(url, issuers, index, fetch_retries)
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.crl") if p.is_file())
            if not files:
                raise AuditInputError(f"--crl {path} holds no *.crl files")
            for file in files:
                _add(index, parse_crl(file.read_bytes(), str(file), issuers))
        elif path.is_file():
            if path.suffix == ".json":
                for url in _shard_list(path.read_bytes(), str(path)):
                    _load_url(url, issuers, index, fetch_retries)
            else:
                _add(index, parse_crl(path.read_bytes(), str(path), issuers))
        else:
            raise AuditInputError(f"--crl {source} is neither a directory, a file nor a URL")
    return index


def _add(index: CrlIndex, got: _LoadedCrl | AuditFinding | None) -> None:
    if got is None:
        index.ignored += 1
    elif isinstance(got, AuditFinding):
        index.findings.append(got)
    else:
        index.add(got)


def _shard_list(data: bytes, source: str) -> list[str]:
    try:
        urls = json.loads(data)
    except ValueError:
        raise AuditInputError(f"{source} is not JSON") from None
    if not isinstance(urls, list) or not all(isinstance(u, str) and _is_url(u) for u in urls):
        raise AuditInputError(f"{source} is not a JSON array of CRL URLs")
    return urls


def _fetch_with_retries(url: str, retries: int) -> bytes | str:
    """The body, or why it could not be fetched."""
    last = ""
    for _ in range(retries + 1):
        try:
            return _fetch(url)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500:
                break
        except (OSError, ValueError, http.client.HTTPException) as exc:
            last = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    return last


def _with_origin(url: str, mirror: str) -> str:
    """`url` fetched from `mirror`'s scheme, host and port instead of its own."""
    m = urlsplit(mirror)
    u = urlsplit(url)
    return urlunsplit((m.scheme, m.netloc, u.path, u.query, ""))


def _expand_url(
    source: str, index: CrlIndex, shard_urls: Sequence[str], retries: int
) -> Iterator[str]:
    path = urlsplit(source).path
    if path.endswith(".crl"):
        yield source
        return
    if path.endswith(".json"):
        got = _fetch_with_retries(source, retries)
        if isinstance(got, str):
            index.findings.append(AuditFinding(Kind.crl_unavailable, None, "", f"{source}: {got}"))
            return
        yield from _shard_list(got, source)
        return
    if not shard_urls:
        raise AuditInputError(
            f"--crl {source}: a mirror URL needs certificates that name their CRL shards"
        )
    for url in shard_urls:
        yield _with_origin(url, source)


def _load_url(url: str, issuers: list[IssuerInfo], index: CrlIndex, retries: int) -> None:
    got = _fetch_with_retries(url, retries)
    if isinstance(got, str):
        index.failed_urls.add(url)
        index.findings.append(AuditFinding(Kind.crl_unavailable, None, "", f"{url}: {got}"))
        return
    _add(index, parse_crl(got, url, issuers))


def distinct_crl_urls(certs: Iterable[ForeignCertificate]) -> list[str]:
    return sorted({u for c in certs for u in c.crl_urls[:1]})
