"""The offline root's own home: its key, certificate, what it signed and revoked, its
CA CRL (ARL), and the ceremony transcript. The online CA home never reads it.

Layout: `root.toml` (names, the online base URL, where the key is), `root.pem`,
`keys/` (an encrypted key file, or nothing when the key is in a PKCS#11 token),
`signed/<serial>.pem`, `revoked.json`, `crl/<name>.crl`, `transcript.jsonl` with the
transcript key. The passphrase (or token PIN) comes from $CERTKEEPER_PASSPHRASE only:
a ceremony is attended, and no secret is left on the root's disk.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certkeeper import br, urls
from certkeeper.ca import certs as cacerts
from certkeeper.config import PASSPHRASE_ENV
from certkeeper.errors import ConfigError, InputError, IssuanceRefused, NotFound
from certkeeper.settings.pkcs11 import TokenConfig
from certkeeper.signing.files import load_signer, write_key
from certkeeper.tomlcheck import TomlProblem, check_keys, get, get_table, read_toml
from certkeeper.x509 import crl as crlenc
from certkeeper.x509.signer import KEY_SPECS, Signer, key_type_of
from certkeeper.x509.time import truncate

ROOT_CONFIG = "root.toml"
ROOT_CERT = "root.pem"
REVOKED = "revoked.json"
STATE = "state.json"
ROOT_KEY_TYPES = ("ecdsa-p384", "rsa-4096", "rsa-3072")
CA_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")


def ceremony_passphrase() -> bytes:
    value = os.environ.get(PASSPHRASE_ENV, "")
    if not value:
        raise ConfigError(f"the root key's passphrase or token PIN: set {PASSPHRASE_ENV}")
    return value.encode()


@dataclass(frozen=True)
class RootSettings:
    name: str
    ca_name: str
    organization: str
    country: str
    base_url: str
    key: str  # key file relative to the root home, or an RFC 7512 pkcs11: URI
    pkcs11: TokenConfig | None
    use_pkilint: bool

    def naming(self) -> cacerts.Naming:
        return cacerts.Naming(self.ca_name, self.organization, self.country)

    def render(self) -> str:
        def q(text: str) -> str:
            return json.dumps(text)

        module = str(self.pkcs11.module) if self.pkcs11 else ""
        token = self.pkcs11.token if self.pkcs11 else ""
        return (
            "# The offline root (docs/key-ceremony.md). Never copied to an online machine.\n"
            "[root]\n"
            f"name = {q(self.name)}\nca_name = {q(self.ca_name)}\n"
            f"organization = {q(self.organization)}\ncountry = {q(self.country)}\n"
            "# where the online CA serves the root's CA CRL (issuing CAs' CRL distribution point)\n"
            f"base_url = {q(self.base_url)}\nkey = {q(self.key)}\n"
            f"pkcs11_module = {q(module)}\npkcs11_token = {q(token)}\n"
            f"pkilint = {'true' if self.use_pkilint else 'false'}\n"
        )


def _parse(path: Path) -> RootSettings:
    where = str(path)
    try:
        doc = read_toml(path)
        check_keys(doc, ("root",), where)
        t = get_table(doc, "root", where)
        w = f"{where} [root]"
        keys = ("name", "ca_name", "organization", "country", "base_url", "key")
        check_keys(t, (*keys, "pkcs11_module", "pkcs11_token", "pkilint"), w)
        module = get(t, "pkcs11_module", str, w, default="")
        token = get(t, "pkcs11_token", str, w, default="")
        return RootSettings(
            name=get(t, "name", str, w),
            ca_name=get(t, "ca_name", str, w),
            organization=get(t, "organization", str, w),
            country=get(t, "country", str, w, default=""),
            base_url=get(t, "base_url", str, w).rstrip("/"),
            key=get(t, "key", str, w),
            pkcs11=TokenConfig(Path(module), token) if module else None,
            use_pkilint=get(t, "pkilint", bool, w, default=True),
        )
    except TomlProblem as exc:
        raise ConfigError(str(exc)) from None


def ca_crl_next_update(
    this_update: datetime, months: int = br.CA_CRL_MAX_NEXT_UPDATE_MONTHS
) -> datetime:
    """`months` calendar months after `this_update` (the day clamped to the month's end)."""
    month0 = this_update.month - 1 + months
    year, month = this_update.year + month0 // 12, month0 % 12 + 1
    day = min(this_update.day, calendar.monthrange(year, month)[1])
    return this_update.replace(year=year, month=month, day=day)


class RootHome:
    """An opened root home."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        if not (self.path / ROOT_CONFIG).is_file():
            raise ConfigError(f"{path} is not a root home: {ROOT_CONFIG} is missing")
        self.settings = _parse(self.path / ROOT_CONFIG)
        self._signer: Signer | None = None

    # -- creating --------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        settings: RootSettings,
        key_type: str,
        passphrase: bytes,
        now: datetime,
        gate: Any,
    ) -> tuple[RootHome, bytes, str]:
        """A new root home with a new root key and self-signed certificate (linted by
        both linters before the real key signs). Returns (home, cert DER, key id)."""
        from certkeeper.ca.signing_gate import lint_then_sign
        from certkeeper.lint.engine import CertType

        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(f"{path} already exists and is not empty; refusing to overwrite it")
        if key_type not in ROOT_KEY_TYPES:
            raise InputError(
                f"root key type {key_type!r}: choose one of {', '.join(ROOT_KEY_TYPES)}"
            )
        problem = urls.base_url_host_problem(settings.base_url)
        if problem is not None:
            raise ConfigError(f"--base-url {settings.base_url!r}: {problem}")
        path.mkdir(parents=True, exist_ok=True)
        for sub in ("keys", "signed", "crl"):
            (path / sub).mkdir(mode=0o700, exist_ok=True)
        if settings.pkcs11 is not None:
            from certkeeper.signing.pkcs11 import generate_key

            signer: Signer = generate_key(
                settings.pkcs11, passphrase, f"certkeeper-{settings.name}", key_type
            )
            key_ref = str(signer.uri)  # type: ignore[attr-defined]
        else:
            key_ref = f"keys/{settings.name}.key.pem"
            write_key(path / key_ref, KEY_SPECS[key_type].generate(), passphrase)
            signer = load_signer(path / key_ref, passphrase)
        settings = RootSettings(**{**settings.__dict__, "key": key_ref})
        (path / ROOT_CONFIG).write_text(settings.render(), encoding="utf-8")
        public_key = signer.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        subject = settings.naming().subject(f"{settings.ca_name} Root R1")
        builder = cacerts.root_builder(subject, public_key, now)
        cert_der = lint_then_sign(builder, CertType.ROOT, None, signer, gate, {})
        cert = x509.load_der_x509_certificate(cert_der)
        (path / ROOT_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (path / REVOKED).write_text("{}\n", encoding="utf-8")
        (path / STATE).write_text(json.dumps({"crl_number": 0}) + "\n", encoding="utf-8")
        home = cls(path)
        home._signer = signer
        return home, cert_der, key_ref

    # -- reading ---------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.path / ROOT_CERT).read_bytes())

    def signer(self, passphrase: bytes) -> Signer:
        """The root key, checked against the root certificate."""
        if self._signer is None:
            key = self.settings.key
            if key.startswith("pkcs11:"):
                from certkeeper.signing.pkcs11 import KeyUri, Pkcs11Signer

                if self.settings.pkcs11 is None:
                    raise ConfigError(
                        f"the root key {key} is in a token; root.toml names no module"
                    )
                signer: Signer = Pkcs11Signer(self.settings.pkcs11, passphrase, KeyUri.parse(key))
            else:
                signer = load_signer(self.path / key, passphrase)
            if signer.public_key() != self.certificate.public_key():
                raise ConfigError(f"the root key {key} does not match {ROOT_CERT}")
            self._signer = signer
        return self._signer

    def revoked(self) -> dict[str, dict[str, Any]]:
        data = json.loads((self.path / REVOKED).read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return data

    def signed(self, serial_hex: str) -> x509.Certificate:
        path = self.path / "signed" / f"{serial_hex}.pem"
        if not path.is_file():
            raise NotFound(f"this root signed no CA certificate with serial {serial_hex}")
        return x509.load_pem_x509_certificate(path.read_bytes())

    # -- ceremony acts ---------------------------------------------------------------

    def sign_ca(
        self, csr_data: bytes, common_name: str | None, passphrase: bytes, now: datetime, gate: Any
    ) -> bytes:
        """An issuing-CA certificate for the CSR's key, linted before the root key signs."""
        from certkeeper.ca.signing_gate import lint_then_sign
        from certkeeper.lint.engine import CertType

        csr = load_csr(csr_data)
        public_key = csr.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        key_type = key_type_of(public_key)
        if key_type not in CA_KEY_TYPES:
            raise InputError(
                f"the CSR's {key_type} key: an issuing CA needs one of {', '.join(CA_KEY_TYPES)}"
            )
        cn = common_name or _csr_cn(csr)
        builder = cacerts.issuing_ca_builder(
            self.settings.naming().subject(cn),
            public_key,
            self.certificate,
            self.settings.name,
            self.settings.base_url,
            now,
        )
        try:
            der = lint_then_sign(
                builder,
                CertType.SUBORDINATE_CA,
                self.certificate,
                self.signer(passphrase),
                gate,
                {},
            )
        except IssuanceRefused as exc:
            raise IssuanceRefused(f"sign-ca: {exc}") from None
        cert = x509.load_der_x509_certificate(der)
        out = self.path / "signed" / f"{cert.serial_number:x}.pem"
        out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return der

    def revoke_ca(self, serial_hex: str, reason: int, revoked_at: datetime) -> x509.Certificate:
        cert = self.signed(serial_hex)
        crlenc.check_reason(reason, ca_certificate=True)
        revoked = self.revoked()
        revoked[serial_hex] = {"reason": reason, "revoked_at": revoked_at.isoformat()}
        _write_json(self.path / REVOKED, revoked)
        return cert

    def sign_crl(
        self, passphrase: bytes, now: datetime, next_update: datetime | None = None
    ) -> tuple[bytes, int, datetime]:
        """The root's CA CRL (ARL) with every revoked CA certificate; nextUpdate at most
        twelve months out (BR 4.9.7). Linted before it is written."""
        from certkeeper.lint.gate import crl_blocking_findings

        now = truncate(now)
        limit = ca_crl_next_update(now)
        next_update = truncate(next_update) if next_update is not None else limit
        if next_update > limit:
            raise InputError(
                f"nextUpdate {next_update.isoformat()} is more than twelve months after "
                f"thisUpdate {now.isoformat()} (BR 4.9.7)"
            )
        if next_update <= now:
            raise InputError("nextUpdate must be after thisUpdate")
        state = json.loads((self.path / STATE).read_text(encoding="utf-8"))
        number = int(state.get("crl_number", 0)) + 1
        rows = sorted(
            (
                (serial, datetime.fromisoformat(v["revoked_at"]), v.get("reason"))
                for serial, v in self.revoked().items()
            ),
            key=lambda r: (len(r[0]), r[0]),
        )
        signer = self.signer(passphrase)
        root_der = self.certificate.public_bytes(serialization.Encoding.DER)
        tbs = crlenc.encode_tbs(
            crlenc.CrlIssuer.from_certificate(root_der),
            crlenc.EntryEncoder().encode_rows(rows),
            now,
            next_update,
            number,
            signer.spec.algorithm_identifier(),
            idp_uri=urls.ca_crl_url(self.settings.base_url, self.settings.name),
            scope="ca",
        )
        der = crlenc.sign_crl(tbs, signer)
        blocking = crl_blocking_findings(der, root_der)
        if blocking:
            raise IssuanceRefused(
                f"the CA CRL fails its lints: {blocking[0].lint_id}: {blocking[0].message}"
            )
        _write_json(self.path / STATE, {**state, "crl_number": number})
        (self.path / "crl" / f"{self.settings.name}.crl").write_bytes(der)
        return der, number, next_update


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = (
            x509.load_pem_x509_csr(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_csr(data)
        )
    except ValueError as exc:
        raise InputError(f"not a CSR (PEM or DER): {exc}") from None
    if not csr.is_signature_valid:
        raise InputError("the CSR's signature does not verify: it was not made with its key")
    return csr


def _csr_cn(csr: x509.CertificateSigningRequest) -> str:
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise InputError("the CSR has no commonName: pass --common-name")
    return str(names[0].value)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_id(cert: x509.Certificate) -> str:
    """The certificate's subjectKeyIdentifier (hex): how the transcript names a key."""
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return ski.digest.hex()
