"""Replay nonces (RFC 8555 6.5) that any front-end process can issue and check.

A nonce is `base64url(issued_at[4] || random[12] || HMAC-SHA256(key, issued_at ||
random)[:16])` under a key shared through the database. Issuing one needs no database
write (every response carries one, so this keeps responses cheap); checking one is the
HMAC, the age, and then one INSERT into the used-nonce table, whose primary key makes a
second use fail in every process. Used nonces are kept until they would have expired
anyway, then purged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from certkeeper.acme.jws import b64url
from certkeeper.acme.problems import AcmeProblem
from certkeeper.store.acme import AcmeStore

_RAW_LENGTH = 4 + 12 + 16
_ENCODED_LENGTH = 43  # base64url of 32 octets, unpadded
PURGE_EVERY = 500  # consumed nonces between purges of expired ones
CLOCK_SKEW = timedelta(seconds=60)  # front ends' clocks may differ by this much


class NonceService:
    def __init__(
        self, store: AcmeStore, lifetime_seconds: int, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.lifetime = timedelta(seconds=lifetime_seconds)
        self.clock = clock
        self._key = store.secret("nonce-hmac", clock())
        self._consumed = 0
        self._lock = threading.Lock()

    def issue(self) -> str:
        issued = struct.pack(">I", int(self.clock().timestamp()))
        body = issued + secrets.token_bytes(12)
        return b64url(body + self._mac(body))

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def check(self, nonce: str | None) -> datetime:
        """Authenticity and age, without using the nonce up: returns when it expires."""
        if not nonce:
            raise AcmeProblem("badNonce", "the JWS protected header has no nonce")
        raw = _decode(nonce)
        if raw is None or len(raw) != _RAW_LENGTH:
            raise AcmeProblem("badNonce", "the nonce was not issued by this server")
        body, mac = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise AcmeProblem("badNonce", "the nonce was not issued by this server")
        issued = datetime.fromtimestamp(struct.unpack(">I", body[:4])[0], tz=self.clock().tzinfo)
        now = self.clock()
        if issued > now + CLOCK_SKEW:
            raise AcmeProblem("badNonce", "the nonce was issued in the future")
        expires = issued + self.lifetime
        if expires < now:
            raise AcmeProblem("badNonce", "the nonce has expired; fetch a new one")
        return expires

    def consume(self, nonce: str, expires: datetime) -> None:
        """Use the nonce up; a second use (in any process) is `badNonce`."""
        if not self.store.use_nonce(nonce, expires):
            raise AcmeProblem("badNonce", "the nonce has already been used")
        with self._lock:
            self._consumed += 1
            purge = self._consumed % PURGE_EVERY == 0
        if purge:
            self.store.purge_nonces(self.clock() - CLOCK_SKEW)


def _decode(nonce: str) -> bytes | None:
    if len(nonce) != _ENCODED_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(nonce + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if b64url(raw) == nonce else None
