"""Encrypted PKCS#8 key files: the development signer.

Keys are written with the best available PKCS#8 encryption and mode 0600, and loaded
only with the configured passphrase.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from certkeeper.errors import ConfigError
from certkeeper.x509.signer import KEY_SPECS, KeySigner, key_type_of


def write_key(path: Path, key: CertificateIssuerPrivateKeyTypes, passphrase: bytes) -> None:
    """Write `key` as encrypted PKCS#8 PEM, readable by the owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_signer(path: Path, passphrase: bytes) -> KeySigner:
    """Load an encrypted key file; a wrong passphrase or corrupt file is one clear error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError) as exc:
        reason = "wrong passphrase or corrupt key" if "password" in str(exc).lower() else str(exc)
        raise ConfigError(f"cannot load key file {path}: {reason}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"key file {path} holds a {type(key).__name__}, not an RSA or ECDSA key")
    key_type = key_type_of(key.public_key())
    if key_type not in KEY_SPECS:
        raise ConfigError(f"key file {path} holds an unsupported {key_type} key")
    return KeySigner(key, KEY_SPECS[key_type])
