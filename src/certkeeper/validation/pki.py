"""A private CA for the mutual TLS between the primary and its remote perspectives.

BR 3.2.2.9 asks for an authenticated and encrypted channel between the CA and each remote
Network Perspective. Each side proves itself with a certificate from this small, private
CA (never the publicly-trusted one): the perspectives accept only clients it issued, and
the primary accepts only perspectives it issued. Keys are ECDSA P-256, files mode 0600.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.ca.certs import ca_key_usage, signing_key_usage
from certkeeper.errors import InputError

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
CA_DAYS = 3650
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Endpoint:
    """One party of the mTLS channel: the primary (client) or a perspective (server)."""

    name: str
    hosts: tuple[str, ...] = ()  # DNS names and IP addresses it is reached at
    server: bool = True  # perspectives serve; the primary only connects


@dataclass(frozen=True)
class Issued:
    name: str
    cert: Path
    key: Path


def parse_hosts(values: Sequence[str], what: str) -> tuple[str, ...]:
    """Check DNS names and IP addresses for a subjectAltName; one clear error each."""
    out = []
    for value in values:
        host = value.strip().lower()
        try:
            out.append(str(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        labels = host.rstrip(".").split(".")
        if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
            raise InputError(f"{what}: {value!r} is neither an IP address nor a DNS name")
        out.append(host.rstrip("."))
    return tuple(out)


def issue_pki(
    out_dir: Path,
    endpoints: Sequence[Endpoint],
    *,
    now: datetime,
    days: int = 397,
    force: bool = False,
) -> list[Issued]:
    """Create (or reuse) the private CA in `out_dir` and issue one leaf per endpoint.

    An existing CA is reused so perspectives can be added later without touching the
    others; an existing leaf is only replaced with `force`."""
    if not 1 <= days <= CA_DAYS:
        raise InputError(f"--days: {days} is outside 1..{CA_DAYS}")
    names = [e.name for e in endpoints]
    for name in names:
        if not _NAME.match(name) or name in ("ca",):
            raise InputError(f"{name!r} is not a usable name (letters, digits, -_., not 'ca')")
    if len(set(names)) != len(names):
        raise InputError(f"names must be unique: {', '.join(names)}")
    for e in endpoints:
        if e.server and not e.hosts:
            raise InputError(f"perspective {e.name!r} needs at least one host name or address")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not force:
        for name in names:
            if (out_dir / f"{name}.pem").exists() or (out_dir / f"{name}.key").exists():
                raise InputError(f"{out_dir / name}.pem/.key exist (use --force to replace)")
    ca_cert, ca_key = _load_or_create_ca(out_dir, now)
    issued = []
    for endpoint in endpoints:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(endpoint, key, ca_cert, ca_key, now, days)
        cert_path, key_path = out_dir / f"{endpoint.name}.pem", out_dir / f"{endpoint.name}.key"
        _write(key_path, _key_pem(key), 0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        issued.append(Issued(endpoint.name, cert_path, key_path))
    return issued


def _load_or_create_ca(
    out_dir: Path, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = out_dir / CA_CERT, out_dir / CA_KEY
    if cert_path.exists() != key_path.exists():
        raise InputError(f"{out_dir}: one of {CA_CERT} and {CA_KEY} is missing")
    if cert_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{out_dir}: the existing mTLS CA cannot be read: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != (
            cert.public_key()
        ):
            raise InputError(f"{out_dir}: {CA_KEY} does not belong to {CA_CERT}")
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certkeeper"),
            x509.NameAttribute(NameOID.COMMON_NAME, "certkeeper MPIC mTLS CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            ca_key_usage(digital_signature=False),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _leaf(
    endpoint: Endpoint,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime,
    days: int,
) -> x509.Certificate:
    sans: list[x509.GeneralName] = []
    for host in endpoint.hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    eku = [ExtendedKeyUsageOID.SERVER_AUTH] if endpoint.server else []
    eku.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certkeeper"),
                    x509.NameAttribute(NameOID.COMMON_NAME, endpoint.name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            signing_key_usage(),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write with the final mode from the start: a key is never world-readable."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
