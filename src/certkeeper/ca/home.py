"""The CA home: creating one (`certkeeper init`) and opening one for every other command.

A new home is assembled in a temporary sibling directory and renamed into place, so a
failure at any step leaves either no home or a complete one, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper import urls
from certkeeper.ca import audit_events
from certkeeper.ca import certs as cacerts
from certkeeper.ca.profile_registry import ProfileRegistry
from certkeeper.config import CONFIG_NAME, PASSPHRASE_ENV, Config, load_config, render_config
from certkeeper.errors import ConfigError, IssuanceRefused
from certkeeper.issuer_keys import OFFLINE_KEY
from certkeeper.signing.files import load_signer, write_key
from certkeeper.store.database import connect, masked_url, migrate, schema_is_current
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import IssuerRecord
from certkeeper.x509.signer import KEY_SPECS, Signer, key_type_of
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.store.stores import Stores


@dataclass(frozen=True)
class InitOptions:
    ca_name: str = "certkeeper Example CA"
    organization: str = "certkeeper Example Trust Services"
    country: str = "US"
    base_url: str = "http://pki.example.com"
    database_url: str | None = None  # default: SQLite in the home
    crl_shards: int = 16
    # Generate the keys in this PKCS#11 token (module path, token label) instead of files.
    pkcs11_module: str = ""
    pkcs11_token: str = ""
    # False: a non-public hierarchy (demos, private PKI), fixed for the home's life.
    public: bool = True
    actor: str | None = None  # recorded as the author of the built-in profile versions
    # The root certificate from a key ceremony (docs/key-ceremony.md): the home holds no
    # root key and starts without issuing CAs (`ca csr`, `ceremony sign-ca`, `ca import`).
    root_cert: bytes | None = None


# (name, role, key type, parent name, common-name suffix)
HIERARCHY: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("root", "root", "ecdsa-p384", None, "Root R1"),
    ("tls-ecdsa-1", "issuing", "ecdsa-p256", "root", "TLS ECDSA E1"),
    ("tls-rsa-1", "issuing", "rsa-2048", "root", "TLS RSA R1"),
    ("ocsp-ecdsa-1", "responder", "ecdsa-p256", "tls-ecdsa-1", "OCSP Responder E1"),
    ("ocsp-rsa-1", "responder", "rsa-2048", "tls-rsa-1", "OCSP Responder R1"),
)


def create_home(
    home: Path, options: InitOptions, passphrase: bytes | None, now: datetime | None = None
) -> Path:
    """Create a complete CA home at `home`; refuse if anything is already there.

    With no passphrase given, a random one is written to `secrets/passphrase` (mode
    0600) and named in the config: fine for development, replace for production."""
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise ConfigError(f"{home} already exists and is not empty; refusing to overwrite it")
    now = truncate(now or datetime.now(UTC))
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    try:
        _populate(staging, options, passphrase, now)
        if home.exists():
            home.rmdir()  # empty, checked above
        staging.rename(home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return home


def _write_private(path: Path, text: str) -> None:
    """A new file only the CA's user can read (0600): the config names the database
    (with any password) and the key files."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _populate(staging: Path, options: InitOptions, passphrase: bytes | None, now: datetime) -> None:
    host_problem = urls.base_url_host_problem(options.base_url)
    if host_problem is not None:
        raise ConfigError(f"[ca] base_url {options.base_url!r} (--base-url): {host_problem}")
    for sub in ("keys", "certs", "profiles", "secrets"):
        (staging / sub).mkdir(mode=0o700)
    pass_file = ""
    if passphrase is None and options.pkcs11_module:
        raise ConfigError(f"keys in a PKCS#11 token need its user PIN: set {PASSPHRASE_ENV} to it")
    if passphrase is None:
        passphrase = secrets.token_urlsafe(32).encode()
        pass_file = "secrets/passphrase"
        fd = os.open(staging / pass_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(passphrase + b"\n")
    _write_private(
        staging / CONFIG_NAME,
        render_config(
            ca_name=options.ca_name,
            organization=options.organization,
            country=options.country,
            base_url=options.base_url.rstrip("/"),
            passphrase_file=pass_file,
            database_url=options.database_url or "sqlite:///inventory.db",
            crl_shards=options.crl_shards,
            pkcs11_module=options.pkcs11_module,
            pkcs11_token=options.pkcs11_token,
            public=options.public,
        ),
    )
    config = load_config(staging)
    engine = connect(config.database_url)
    try:
        migrate(engine)
        from certkeeper.store.stores import Stores

        stores = Stores.over(Inventory(engine))
        inventory = stores.inventory
        if inventory.issuers():
            shown = masked_url(config.database_url)
            raise ConfigError(f"database {shown} already holds a CA hierarchy")
        naming = cacerts.Naming(options.ca_name, options.organization, options.country)
        stores.hierarchy.record(options.public, now)
        if options.root_cert is not None:
            _record_offline_root(staging, inventory, options.root_cert, now)
        else:
            _create_hierarchy(staging, config, inventory, naming, passphrase, now)
        registry = ProfileRegistry(config.profile_dir, inventory, stores.profile_control)
        registry.install_builtin(now, options.actor)
        audit_events.new_home(stores.audit_log, config, inventory.issuers(), options.actor, now)
    finally:
        engine.dispose()


def _create_hierarchy(
    staging: Path,
    config: Config,
    inventory: Inventory,
    naming: cacerts.Naming,
    passphrase: bytes,
    now: datetime,
) -> None:
    from certkeeper.ca.signing_gate import lint_then_sign
    from certkeeper.lint.engine import CertType
    from certkeeper.lint.gate import LintGate

    gate = LintGate(config.use_pkilint)  # the gate `ca add-issuer` uses, both linters
    waivers = config.waivers_in_force(now)
    made: dict[str, tuple[IssuerRecord, x509.Certificate, Signer]] = {}
    for name, role, key_type, parent, cn_suffix in HIERARCHY:
        signer, key_ref = new_key(staging, config, name, key_type, passphrase)
        subject = naming.subject(f"{naming.ca_name} {cn_suffix}")
        public_key = signer.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        parent_cert: x509.Certificate | None = None
        if parent is None:
            builder = cacerts.root_builder(subject, public_key, now)
            parent_signer: Signer = signer
            parent_id = None
            cert_type = CertType.ROOT
        else:
            parent_rec, parent_cert, parent_signer = made[parent]
            parent_id = parent_rec.id
            if role == "issuing":
                builder = cacerts.issuing_ca_builder(
                    subject, public_key, parent_cert, parent, config.base_url, now
                )
                cert_type = CertType.SUBORDINATE_CA
            else:
                builder = cacerts.responder_builder(subject, public_key, parent_cert, now)
                cert_type = CertType.OCSP_RESPONDER
        try:
            cert_der = lint_then_sign(builder, cert_type, parent_cert, parent_signer, gate, waivers)
        except IssuanceRefused as exc:
            raise IssuanceRefused(f"init: {name}: {exc}") from None
        cert = x509.load_der_x509_certificate(cert_der)
        record = record_issuer(
            staging, inventory, name, role, key_type, parent_id, cert_der, key_ref, now
        )
        made[name] = (record, cert, signer)


def _record_offline_root(staging: Path, inventory: Inventory, data: bytes, now: datetime) -> None:
    """The root from a ceremony, recorded with no key: nothing online can sign with it."""
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
        cert.verify_directly_issued_by(cert)
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        raise ConfigError("--root-cert: not a self-signed CA certificate (PEM or DER)") from None
    if not is_ca or cert.not_valid_after_utc <= now:
        raise ConfigError("--root-cert: not a CA certificate, or expired")
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    der = cert.public_bytes(serialization.Encoding.DER)
    record_issuer(staging, inventory, "root", "root", key_type_of(key), None, der, OFFLINE_KEY, now)


def record_issuer(
    home_dir: Path,
    inventory: Inventory,
    name: str,
    role: str,
    key_type: str,
    parent_id: int | None,
    cert_der: bytes,
    key_ref: str,
    now: datetime,
    state: str = "active",
) -> IssuerRecord:
    """Write a CA certificate to certs/<name>.pem and record it in the inventory."""
    cert = x509.load_der_x509_certificate(cert_der)
    (home_dir / "certs" / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return inventory.add_issuer(
        IssuerRecord(
            id=None,
            name=name,
            role=role,
            state=state,
            key_type=key_type,
            parent_id=parent_id,
            subject=cert.subject.rfc4514_string(),
            ski=cert.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value.digest.hex(),
            sha256=hashlib.sha256(cert_der).hexdigest(),
            cert_der=cert_der,
            key_ref=key_ref,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            created_at=now,
        )
    )


def new_key(
    home_dir: Path,
    config: Config,
    name: str,
    key_type: str,
    passphrase: bytes,
    on_login: Callable[[str, bool, str], None] | None = None,
) -> tuple[Signer, str]:
    """A new CA key and how the inventory names it: a key file path relative to the
    home, or the RFC 7512 URI of a key generated inside the PKCS#11 token (`on_login`
    is told of the login to it)."""
    if config.pkcs11 is not None:
        from certkeeper.signing.pkcs11 import generate_key

        signer = generate_key(config.pkcs11, passphrase, f"certkeeper-{name}", key_type, on_login)
        return signer, str(signer.uri)
    key = KEY_SPECS[key_type].generate()
    key_ref = f"keys/{name}.key.pem"
    write_key(home_dir / key_ref, key, passphrase)
    return load_signer(home_dir / key_ref, passphrase), key_ref


class CaHome:
    """An opened CA home: config, inventory, and signers loaded on demand."""

    def __init__(self, config: Config, *, check_database: bool = True) -> None:
        self.config = config
        self._signers: dict[int, Signer] = {}
        # False only where the database and its schema were checked already (a server
        # worker, whose `serve` checked them): opening the home then connects to nothing.
        self._check_database = check_database

    @classmethod
    def open(cls, home: Path, *, check_database: bool = True) -> CaHome:
        return cls(load_config(home), check_database=check_database)

    @cached_property
    def inventory(self) -> Inventory:
        check = self._check_database
        engine = connect(self.config.database_url, probe=check)
        if check and not schema_is_current(engine):
            raise ConfigError(
                f"the inventory of CA home {self.config.home} is not initialised or needs a "
                "migration: run `certkeeper db status` and `certkeeper db upgrade`"
            )
        return Inventory(engine)

    @cached_property
    def stores(self) -> Stores:
        """Every repository of the inventory's database, built once (imported when first
        used: commands that touch no store do not load them all)."""
        from certkeeper.store.stores import Stores

        return Stores.over(self.inventory)

    @cached_property
    def profiles(self) -> ProfileRegistry:
        return ProfileRegistry(
            self.config.profile_dir,
            self.inventory,
            self.stores.profile_control,
            require_approval=self.config.profiles_require_approval,
        )

    def close(self) -> None:
        if "inventory" in self.__dict__:
            self.stores.dispose()

    def issuer_certificate(self, issuer: IssuerRecord) -> x509.Certificate:
        return x509.load_der_x509_certificate(issuer.cert_der)

    def signer(self, issuer: IssuerRecord) -> Signer:
        """The issuer's key. Checked against the issuer certificate's public key, so a
        swapped key file cannot sign in the issuer's name."""
        assert issuer.id is not None
        if issuer.id not in self._signers:
            signer = self._load_signer(issuer.key_ref)
            cert_key = self.issuer_certificate(issuer).public_key()
            if signer.public_key() != cert_key:
                raise ConfigError(
                    f"key {issuer.key_ref} does not match issuer {issuer.name}'s certificate"
                )
            if key_type_of(cert_key) != issuer.key_type:
                raise ConfigError(f"issuer {issuer.name} is recorded as {issuer.key_type}")
            self._signers[issuer.id] = signer
        return self._signers[issuer.id]

    def new_key(self, name: str, key_type: str) -> tuple[Signer, str]:
        """A new CA key of this home (see `new_key`), a token login audited."""
        return new_key(
            self.config.home,
            self.config,
            name,
            key_type,
            self.config.passphrase(),
            audit_events.token_login(self),
        )

    def _load_signer(self, key_ref: str) -> Signer:
        from certkeeper.signing.pkcs11 import URI_SCHEME

        if key_ref == OFFLINE_KEY:
            raise ConfigError(
                "the root key is offline: it signs only in a key ceremony (docs/key-ceremony.md)"
            )
        if not key_ref.startswith(URI_SCHEME):
            return load_signer(self.config.home / key_ref, self.config.passphrase())
        from certkeeper.signing.pkcs11 import KeyUri, Pkcs11Signer

        uri = KeyUri.parse(key_ref)
        token = self.config.pkcs11
        if token is None:
            raise ConfigError(
                f"key {key_ref} is in a PKCS#11 token, but [keys] names no pkcs11_module"
            )
        if token.token != uri.token:
            raise ConfigError(
                f"key {key_ref} is in token {uri.token!r}; [keys] pkcs11_token is {token.token!r}"
            )
        return Pkcs11Signer(token, self.config.passphrase(), uri, audit_events.token_login(self))

    def active_issuer(self, key_type: str) -> IssuerRecord:
        """The active issuing CA whose key is of `key_type`."""
        for rec in self.inventory.issuers(role="issuing"):
            if rec.state == "active" and rec.key_type == key_type:
                return rec
        raise ConfigError(f"no active issuing CA with a {key_type} key in this CA home")
