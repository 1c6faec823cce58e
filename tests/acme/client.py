"""A small ACME client for the tests: JWS signing (ES256, RS256, EdDSA) and nonce handling.

Written against RFC 8555 directly, so it shares no code with the server it tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk(key: PrivateKey) -> dict[str, str]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        nums = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        crv = {256: "P-256", 384: "P-384", 521: "P-521"}[key.curve.key_size]
        return {
            "kty": "EC",
            "crv": crv,
            "x": b64(nums.x.to_bytes(size, "big")),
            "y": b64(nums.y.to_bytes(size, "big")),
        }
    if isinstance(key, rsa.RSAPrivateKey):
        rn = key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "n": b64(rn.n.to_bytes((rn.n.bit_length() + 7) // 8, "big")),
            "e": b64(rn.e.to_bytes((rn.e.bit_length() + 7) // 8, "big")),
        }
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}


def thumbprint(key: PrivateKey) -> str:
    members = jwk(key)
    text = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64(hashlib.sha256(text.encode()).digest())


def alg_for(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"


def sign(key: PrivateKey, alg: str, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}
        der = key.sign(data, ec.ECDSA(digest.get(alg, hashes.SHA256())))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def jws(
    key: PrivateKey,
    protected: dict[str, Any],
    payload: bytes,
    *,
    alg: str | None = None,
) -> dict[str, str]:
    """A flattened JWS over exactly these header members and payload octets."""
    header = dict(protected)
    header.setdefault("alg", alg or alg_for(key))
    protected_b64 = b64(json.dumps(header).encode())
    payload_b64 = b64(payload)
    signature = sign(key, header["alg"], f"{protected_b64}.{payload_b64}".encode())
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64(signature)}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem(self) -> str:
        """The ACME error type without its URN prefix."""
        assert self.headers.get("content-type") == "application/problem+json", self.body
        return str(self.json()["type"]).removeprefix("urn:ietf:params:acme:error:")


def http(method: str, url: str, body: bytes | None = None, ctype: str | None = None) -> Reply:
    request = urllib.request.Request(url, data=body, method=method)
    if ctype:
        request.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, _headers(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, _headers(exc.headers.items()), exc.read())


def _headers(items: Any) -> dict[str, str]:
    """Lower-case names; repeated headers (Link) joined with ", " as HTTP allows."""
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


@dataclass
class AcmeClient:
    directory_url: str
    key: PrivateKey
    kid: str | None = None
    directory: dict[str, Any] = field(default_factory=dict)
    _nonce: str | None = None

    def __post_init__(self) -> None:
        self.directory = http("GET", self.directory_url).json()

    def nonce(self) -> str:
        if self._nonce is not None:
            value, self._nonce = self._nonce, None
            return value
        reply = http("HEAD", self.directory["newNonce"])
        return reply.headers["replay-nonce"]

    def send(self, url: str, body: dict[str, str], ctype: str = "application/jose+json") -> Reply:
        reply = http("POST", url, json.dumps(body).encode(), ctype)
        self._nonce = reply.headers.get("replay-nonce")
        return reply

    def post(
        self,
        url: str,
        payload: Any | None,
        *,
        use_jwk: bool = False,
        key: PrivateKey | None = None,
    ) -> Reply:
        """Signed POST; `payload=None` is POST-as-GET. Retries once on badNonce."""
        key = key or self.key
        raw = b"" if payload is None else json.dumps(payload).encode()
        for _ in range(2):
            protected: dict[str, Any] = {"nonce": self.nonce(), "url": url}
            if use_jwk or self.kid is None:
                protected["jwk"] = jwk(key)
            else:
                protected["kid"] = self.kid
            reply = self.send(url, jws(key, protected, raw))
            if reply.status == 400 and reply.body and b"badNonce" in reply.body:
                continue
            return reply
        return reply

    def register(self, contact: list[str] | None = None) -> Reply:
        payload: dict[str, Any] = {"termsOfServiceAgreed": True}
        if contact is not None:
            payload["contact"] = contact
        reply = self.post(self.directory["newAccount"], payload, use_jwk=True)
        assert reply.status in (200, 201), reply.body
        self.kid = reply.headers["location"]
        return reply

    def new_order(self, names: list[str], **extra: Any) -> Reply:
        payload = {"identifiers": [{"type": "dns", "value": n} for n in names], **extra}
        return self.post(self.directory["newOrder"], payload)

    def key_authorization(self, token: str) -> str:
        return f"{token}.{thumbprint(self.key)}"

    def poll(self, url: str, until: tuple[str, ...], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.post(url, None).json()
            if doc.get("status") in until or time.monotonic() > deadline:
                return dict(doc)
            time.sleep(0.05)
