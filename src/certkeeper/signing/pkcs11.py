"""CA keys held in a PKCS#11 token (an HSM in production, SoftHSM2 in the tests).

Keys are generated inside the token as sensitive, non-extractable signing keys and are
named in the inventory by an RFC 7512 URI (`pkcs11:token=...;object=...;id=...`). The
module path is a property of the machine, so it lives in the config, not in the URI.
The token's user PIN is the CA key passphrase ($CERTKEEPER_PASSPHRASE or the configured
file), so nothing new has to be kept secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from certkeeper.errors import ConfigError
from certkeeper.settings.pkcs11 import TokenConfig
from certkeeper.x509.signer import KEY_SPECS, KeySpec, key_type_of

URI_SCHEME = "pkcs11:"

_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "ecdsa-p256": (ec.EllipticCurveOID.SECP256R1.dotted_string, ec.SECP256R1()),
    "ecdsa-p384": (ec.EllipticCurveOID.SECP384R1.dotted_string, ec.SECP384R1()),
}
_RSA_MECHANISMS = {"sha256": Mechanism.SHA256_RSA_PKCS, "sha384": Mechanism.SHA384_RSA_PKCS}


@dataclass(frozen=True)
class KeyUri:
    """The parts of an RFC 7512 URI that name one private key in one token."""

    token: str
    label: str
    key_id: bytes

    def __str__(self) -> str:
        def enc(value: str) -> str:
            return quote(value, safe="")

        key_id = "".join(f"%{b:02x}" for b in self.key_id)
        return f"{URI_SCHEME}token={enc(self.token)};object={enc(self.label)};id={key_id}"

    @classmethod
    def parse(cls, uri: str) -> KeyUri:
        if not uri.startswith(URI_SCHEME):
            raise ConfigError(f"{uri!r} is not a pkcs11: URI")
        attrs: dict[str, bytes] = {}
        for part in uri[len(URI_SCHEME) :].split(";"):
            name, sep, value = part.partition("=")
            if not sep or name in attrs:
                raise ConfigError(f"malformed pkcs11 URI {uri!r}: bad attribute {part!r}")
            attrs[name] = unquote_to_bytes(value)
        missing = {"token", "object", "id"} - attrs.keys()
        if missing:
            raise ConfigError(f"pkcs11 URI {uri!r} lacks {', '.join(sorted(missing))}")
        try:
            return cls(attrs["token"].decode(), attrs["object"].decode(), attrs["id"])
        except UnicodeDecodeError:
            raise ConfigError(f"pkcs11 URI {uri!r}: token and object must be UTF-8") from None


# One loaded module per path and process. A PKCS#11 library must be initialised again in
# a forked child (PKCS#11 v2.40 section 6.7.7), and batch issuance forks its workers.
# The generation counts re-initialisations: every session opened before one is gone.
_libraries: dict[Path, tuple[int, int, Any]] = {}  # module -> (pid, generation, lib)
_libraries_lock = threading.RLock()
# The PIN this process logged in to each token with: later sessions share that login, so
# their PIN is compared here instead of by the token.
_logins: dict[tuple[Path, str, int], bytes] = {}


def _library(module: Path, *, rescan: bool = False) -> tuple[int, Any]:
    """The loaded module and its generation; `rescan` re-initialises it, because a
    module lists the tokens that existed when it was initialised (SoftHSM2 does)."""
    with _libraries_lock:
        pid = os.getpid()
        known = _libraries.get(module)
        if known is None:
            if not module.is_file():
                raise ConfigError(f"PKCS#11 module {module} does not exist")
            try:
                lib = pkcs11.lib(str(module))
            except pkcs11.PKCS11Error as exc:
                raise ConfigError(f"cannot load PKCS#11 module {module}: {exc!r}") from None
            _libraries[module] = (pid, 0, lib)
            return 0, lib
        owner, generation, lib = known
        if owner != pid or rescan:
            try:
                lib.reinitialize()
            except pkcs11.PKCS11Error:
                lib.initialize()
            generation += 1
            _libraries[module] = (pid, generation, lib)
            for key in [k for k in _logins if k[0] == module]:
                del _logins[key]
        return generation, lib


# Told of every login to a token (token label, success, what happened), for the audit
# log (BR 5.4.1). A session that shares this process's earlier login is not a login.
LoginHook = Callable[[str, bool, str], None]


def _open_session(
    config: TokenConfig, pin: bytes, *, rw: bool = False, on_login: LoginHook | None = None
) -> tuple[int, Any]:
    try:
        generation, session, fresh = _open_locked(config, pin, rw)
    except ConfigError as exc:
        if on_login is not None:
            on_login(config.token, False, str(exc))
        raise
    if fresh and on_login is not None:
        on_login(config.token, True, f"logged in ({'read-write' if rw else 'read-only'})")
    return generation, session


def _open_locked(config: TokenConfig, pin: bytes, rw: bool) -> tuple[int, Any, bool]:
    """(generation, session, whether this was a new login)."""
    with _libraries_lock:
        generation, lib = _library(config.module)
        try:
            token = lib.get_token(token_label=config.token)
        except pkcs11.NoSuchToken:
            generation, lib = _library(config.module, rescan=True)
            try:
                token = lib.get_token(token_label=config.token)
            except pkcs11.NoSuchToken:
                where = f"{config.token!r} in {config.module}"
                raise ConfigError(f"no PKCS#11 token labelled {where}") from None
        except pkcs11.MultipleTokensReturned:
            raise ConfigError(f"several PKCS#11 tokens are labelled {config.token!r}") from None
        login = (config.module, config.token, os.getpid())
        try:
            session = token.open(rw=rw, user_pin=pin.decode())
        except pkcs11.UserAlreadyLoggedIn:
            # Login is per application and token, not per session (PKCS#11 v2.40 5.6): a
            # second session of this process shares the first one's login.
            if not hmac.compare_digest(_logins.get(login, b""), pin):
                raise ConfigError(f"wrong PIN for PKCS#11 token {config.token!r}") from None
            return generation, token.open(rw=rw), False
        except pkcs11.PinIncorrect:
            raise ConfigError(f"wrong PIN for PKCS#11 token {config.token!r}") from None
        except pkcs11.PKCS11Error as exc:
            what = f"cannot log in to PKCS#11 token {config.token!r}"
            raise ConfigError(f"{what}: {exc!r}") from None
        _logins[login] = pin
        return generation, session, True


def _public_key(pub: Any, key_type: KeyType) -> object:
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(pub[Attribute.MODULUS], "big")
        exponent = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    params = bytes(pub[Attribute.EC_PARAMS])
    for oid, curve in _CURVES.values():
        if params == encode_named_curve_parameters(oid):
            point = bytes(pub[Attribute.EC_POINT])
            # CKA_EC_POINT is DER OCTET STRING (PKCS#11 v2.40 2.3.3); SoftHSM2 and most
            # HSMs wrap it, a few return the bare point. The length tells them apart: an
            # uncompressed point is 2 * coordinate + 1 octets, and both our curves' points
            # fit a short-form OCTET STRING header (2 octets). Looking at the third octet
            # instead would misread a bare point whose x coordinate starts with 0x04.
            bare = 2 * ((curve.key_size + 7) // 8) + 1
            if len(point) == bare + 2 and point[:2] == bytes((0x04, bare)):
                point = point[2:]
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    raise ConfigError("PKCS#11 key has an unsupported curve")


class Pkcs11Signer:
    """A Signer whose private key never leaves the token.

    One session per signer and process; a lock serialises operations on it, because a
    PKCS#11 session runs one operation at a time (the ACME server issues from threads)."""

    def __init__(
        self, config: TokenConfig, pin: bytes, uri: KeyUri, on_login: LoginHook | None = None
    ) -> None:
        self._config = config
        self._on_login = on_login
        self._pin = pin
        self._uri = uri
        self._lock = threading.Lock()
        self._generation = -1
        self._session: Any = None
        self._key: Any = None
        with self._lock:
            key_type, public = self._load()
        self._public = public
        name = key_type_of(public)
        if name not in KEY_SPECS:
            raise ConfigError(f"PKCS#11 key {uri} is an unsupported {name} key")
        self._spec = KEY_SPECS[name]
        self._rsa = key_type == KeyType.RSA

    def _load(self) -> tuple[KeyType, object]:
        generation, session = _open_session(self._config, self._pin, on_login=self._on_login)
        uri = self._uri
        try:
            key = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, label=uri.label, id=uri.key_id
            )
            pub = session.get_key(
                object_class=ObjectClass.PUBLIC_KEY, label=uri.label, id=uri.key_id
            )
        except pkcs11.NoSuchKey:
            raise ConfigError(f"token {uri.token!r} holds no key pair {uri}") from None
        except pkcs11.MultipleObjectsReturned:
            raise ConfigError(f"token {uri.token!r} holds several keys matching {uri}") from None
        self._session, self._key, self._generation = session, key, generation
        return key.key_type, _public_key(pub, key.key_type)

    @property
    def spec(self) -> KeySpec:
        return self._spec

    @property
    def uri(self) -> KeyUri:
        return self._uri

    def public_key(self) -> object:
        return self._public

    def sign(self, data: bytes) -> bytes:
        with self._lock:
            current, _ = _library(self._config.module)  # re-initialises in a forked child
            if current != self._generation:
                self._load()  # the module was re-initialised: earlier sessions are gone
            if self._rsa:
                signature: bytes = self._key.sign(
                    data, mechanism=_RSA_MECHANISMS[self._spec.hash_name]
                )
                return signature
            digest = hashlib.new(self._spec.hash_name, data).digest()
            raw: bytes = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )


def generate_key(
    config: TokenConfig,
    pin: bytes,
    label: str,
    key_type: str,
    on_login: LoginHook | None = None,
) -> Pkcs11Signer:
    """Generate a sensitive, non-extractable signing key pair in the token."""
    spec = KEY_SPECS[key_type]
    key_id = secrets.token_bytes(16)
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    _, session = _open_session(config, pin, rw=True, on_login=on_login)
    try:
        if spec.is_rsa:
            session.generate_keypair(
                KeyType.RSA,
                int(key_type[4:]),
                id=key_id,
                label=label,
                store=True,
                private_template=private_template,
                public_template={Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
            )
        else:
            oid, _ = _CURVES[key_type]
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(oid)}, local=True
            )
            params.generate_keypair(
                id=key_id, label=label, store=True, private_template=private_template
            )
    except pkcs11.PKCS11Error as exc:
        what = f"token {config.token!r} could not generate a {key_type} key"
        raise ConfigError(f"{what}: {exc!r}") from None
    finally:
        session.close()
    return Pkcs11Signer(config, pin, KeyUri(config.token, label, key_id), on_login)


# PKCS#11 v2.40 defines no key attestation; what a token does say of a private key is in
# these attributes (4.9): made inside the token (LOCAL), never readable in clear
# (ALWAYS_SENSITIVE) and never exportable (NEVER_EXTRACTABLE). A ceremony transcript
# records them, with the token's identity, as the evidence an auditor can check.
_PROVENANCE = (
    ("local", Attribute.LOCAL),
    ("sensitive", Attribute.SENSITIVE),
    ("always_sensitive", Attribute.ALWAYS_SENSITIVE),
    ("extractable", Attribute.EXTRACTABLE),
    ("never_extractable", Attribute.NEVER_EXTRACTABLE),
)
NO_ATTESTATION = "none: PKCS#11 defines no key attestation, and certkeeper reads no vendor's"


def key_provenance(
    config: TokenConfig, pin: bytes, uri: KeyUri, on_login: LoginHook | None = None
) -> dict[str, object]:
    """The token's identity and its statement of where the key was made and whether it
    can leave (`generated_in_token`: LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE)."""
    _, session = _open_session(config, pin, on_login=on_login)
    try:
        token = session.token
        try:
            key = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, label=uri.label, id=uri.key_id
            )
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
            raise ConfigError(f"token {uri.token!r} holds no single private key {uri}") from None
        attributes: dict[str, bool | None] = {}
        for name, attribute in _PROVENANCE:
            try:
                attributes[name] = bool(key[attribute])
            except pkcs11.PKCS11Error:
                attributes[name] = None  # the token does not say
        return {
            "token": {
                "label": token.label,
                "serial": _text(token.serial),
                "manufacturer": _text(token.manufacturer_id),
                "model": _text(token.model),
            },
            "key_attributes": attributes,
            "generated_in_token": bool(
                attributes["local"]
                and attributes["always_sensitive"]
                and attributes["never_extractable"]
            ),
            "attestation": NO_ATTESTATION,
        }
    finally:
        session.close()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return str(value).strip()
