"""An RFC 6962 log for tests and staging: a real Merkle tree, real SCTs, real STHs.

It accepts chains that end in one of its roots, hands out SCTs signed with its own
P-256 key, and serves every RFC 6962 section 4 endpoint, so monitors written by others
(certspotter) and TLS stacks (OpenSSL's SCT validation) can check what certkeeper
embeds. It merges every entry at once (a maximum merge delay of zero), which a test
can rely on. It is not a production log: one process, entries in memory, optionally
appended to a file so a staging log survives a restart.

`faults` injects what a real log sometimes does (tests use it): time out, answer 5xx,
return an SCT with a bad signature or with another log's id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certkeeper.ct import merkle, tls
from certkeeper.ct.entries import leaf_input
from certkeeper.ct.sct import (
    HASH_SHA256,
    SIG_ECDSA,
    V1,
    Sct,
    SignatureType,
    SignedEntry,
    issuer_key_hash,
    signed_data,
)
from certkeeper.x509.oids import EKU_PRECERT_SIGNING
from certkeeper.x509.tbs import CT_POISON, remove_extension

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MAX_ENTRIES_PER_REQUEST = 1000
FAULTS = ("timeout", "5xx", "bad_signature", "wrong_log_id")


class Rejected(ValueError):
    """A submission or query the log refuses (HTTP 400 with the reason)."""


@dataclass(frozen=True)
class Entry:
    leaf_input: bytes  # MerkleTreeLeaf
    extra_data: bytes


def _certs_vector(ders: list[bytes]) -> bytes:
    return tls.vector(b"".join(tls.vector(d, 3) for d in ders), 3)


class TestLog:
    """The log's state; `app` serves it. Thread-safe (the ASGI server and tests share it)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        roots: list[bytes],
        *,
        clock_ms: Callable[[], int] | None = None,
        store: Path | None = None,
    ) -> None:
        self.key = key
        self.spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(self.spki).digest()
        self.roots = [x509.load_der_x509_certificate(r) for r in roots]
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.entries: list[Entry] = []
        self.hashes: list[bytes] = []
        # entry hash -> its timestamp: a resubmission gets an SCT with the same timestamp
        self._by_entry: dict[bytes, int] = {}
        self._sth: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.faults: set[str] = set()
        self.timeout_seconds = 30.0
        self.submissions = 0
        self.store = store
        if store is not None and store.exists():
            self._load(store)

    # -- submissions ----------------------------------------------------------------

    def add_chain(self, chain: list[bytes], *, precert: bool) -> Sct:
        if not chain:
            raise Rejected("empty chain")
        certs = [self._parse(d, i) for i, d in enumerate(chain)]
        self._check_chain(certs)
        leaf = certs[0]
        poisoned = any(e.oid.dotted_string == CT_POISON for e in leaf.extensions)
        if precert != poisoned:
            raise Rejected(
                "add-pre-chain needs a precertificate (poison extension)"
                if precert
                else "add-chain takes no precertificate"
            )
        if precert:
            if len(certs) < 2:
                raise Rejected("a precertificate chain needs its issuer")
            issuer = certs[1]
            if _is_precert_signing(issuer):
                raise Rejected("precertificate signing certificates are not supported")
            entry = SignedEntry.precert(
                issuer_key_hash(issuer), remove_extension(leaf.tbs_certificate_bytes, CT_POISON)
            )
            extra = tls.vector(chain[0], 3) + _certs_vector(chain[1:])
        else:
            entry = SignedEntry.x509(chain[0])
            extra = _certs_vector(chain[1:])
        key = hashlib.sha256(entry.encode()).digest()
        with self._lock:
            self.submissions += 1
            known = self._by_entry.get(key)
            if known is not None:
                return self._sign_sct(known, entry)
            timestamp = self.clock_ms()
            self._append(Entry(leaf_input(timestamp, entry), extra))
            self._by_entry[key] = timestamp
        return self._sign_sct(timestamp, entry)

    def _sign_sct(self, timestamp: int, entry: SignedEntry) -> Sct:
        signature = self.key.sign(signed_data(timestamp, entry, b""), ec.ECDSA(hashes.SHA256()))
        return Sct(self.log_id, timestamp, b"", HASH_SHA256, SIG_ECDSA, signature)

    def _append(self, item: Entry) -> None:
        self.entries.append(item)
        self.hashes.append(merkle.leaf_hash(item.leaf_input))
        if self.store is not None:
            with self.store.open("a") as fh:
                fh.write(
                    base64.b64encode(item.leaf_input).decode()
                    + " "
                    + base64.b64encode(item.extra_data).decode()
                    + "\n"
                )

    def _load(self, store: Path) -> None:
        with store.open() as fh:
            for line in fh:
                leaf_b64, extra_b64 = line.split(" ")
                leaf = base64.b64decode(leaf_b64)
                self.entries.append(Entry(leaf, base64.b64decode(extra_b64)))
                self.hashes.append(merkle.leaf_hash(leaf))
                # leaf: version, leaf type, timestamp[8], then the signed entry, then
                # the (empty) extensions vector
                timestamp = int.from_bytes(leaf[2:10], "big")
                self._by_entry[hashlib.sha256(leaf[10:-2]).digest()] = timestamp

    def _parse(self, der: bytes, index: int) -> x509.Certificate:
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            raise Rejected(f"chain[{index}] is not a DER certificate") from None

    def _check_chain(self, certs: list[x509.Certificate]) -> None:
        for child, parent in itertools.pairwise(certs):
            try:
                child.verify_directly_issued_by(parent)
            except Exception as exc:  # cryptography raises several types here
                raise Rejected(f"chain does not verify: {exc}") from None
        last = certs[-1]
        for root in self.roots:
            if last == root:
                return
            try:
                last.verify_directly_issued_by(root)
                return
            except Exception:
                continue
        raise Rejected("chain does not end at an accepted root")

    # -- reads ------------------------------------------------------------------------

    def sth(self) -> dict[str, Any]:
        with self._lock:
            size = len(self.hashes)
            cached = self._sth.get(size)
            if cached is not None:
                return cached
            root = merkle.root(self.hashes)
            timestamp = self.clock_ms()
            data = (
                tls.uint(V1, 1)
                + tls.uint(SignatureType.TREE_HASH, 1)
                + tls.uint(timestamp, 8)
                + tls.uint(size, 8)
                + root
            )
            sig = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
            ds = tls.uint(HASH_SHA256, 1) + tls.uint(SIG_ECDSA, 1) + tls.vector(sig, 2)
            out = {
                "tree_size": size,
                "timestamp": timestamp,
                "sha256_root_hash": _b64(root),
                "tree_head_signature": _b64(ds),
            }
            self._sth[size] = out
            return out

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            if not 0 <= first <= second <= len(self.hashes):
                raise Rejected(f"no tree sizes {first} and {second} in a log of {len(self.hashes)}")
            if first == 0 or first == second:
                return []
            return merkle.consistency_proof(first, self.hashes[:second])

    def proof_by_hash(self, leaf: bytes, size: int) -> tuple[int, list[bytes]]:
        with self._lock:
            if not 0 < size <= len(self.hashes):
                raise Rejected(f"tree_size {size} is not in 1..{len(self.hashes)}")
            try:
                index = self.hashes.index(leaf, 0, size)
            except ValueError:
                raise Rejected("no such leaf hash in that tree") from None
            return index, merkle.audit_path(index, self.hashes[:size])

    def get_entries(self, start: int, end: int) -> list[Entry]:
        with self._lock:
            if start < 0 or end < start or start >= len(self.entries):
                raise Rejected(f"no entries {start}..{end} in a log of {len(self.entries)}")
            end = min(end, len(self.entries) - 1, start + MAX_ENTRIES_PER_REQUEST - 1)
            return self.entries[start : end + 1]

    # -- HTTP -------------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        prefix = "/ct/v1/"
        if not path.startswith(prefix):
            await _json(send, 404, {"error_message": "not an RFC 6962 endpoint"})
            return
        name = path[len(prefix) :]
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > 4_000_000:
                await _json(send, 413, {"error_message": "request too large"})
                return
        if name in ("add-chain", "add-pre-chain"):
            if "timeout" in self.faults:
                await asyncio.sleep(self.timeout_seconds)
            if "5xx" in self.faults:
                await _json(send, 503, {"error_message": "injected fault: unavailable"})
                return
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        try:
            status, payload = await asyncio.to_thread(self._dispatch, name, scope, body, query)
        except Rejected as exc:
            status, payload = 400, {"error_message": str(exc)}
        await _json(send, status, payload)

    def _dispatch(
        self, name: str, scope: Scope, body: bytes, query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        method = scope["method"]
        if name in ("add-chain", "add-pre-chain"):
            if method != "POST":
                return 405, {"error_message": f"{name} takes POST"}
            sct = self.add_chain(_chain(body), precert=name == "add-pre-chain")
            return 200, self._sct_json(sct)
        if method != "GET":
            return 405, {"error_message": f"{name} takes GET"}
        if name == "get-sth":
            return 200, self.sth()
        if name == "get-sth-consistency":
            proof = self.consistency(_int(query, "first"), _int(query, "second"))
            return 200, {"consistency": [_b64(p) for p in proof]}
        if name == "get-proof-by-hash":
            leaf = _b64_param(query, "hash")
            index, path = self.proof_by_hash(leaf, _int(query, "tree_size"))
            return 200, {"leaf_index": index, "audit_path": [_b64(p) for p in path]}
        if name == "get-entries":
            items = self.get_entries(_int(query, "start"), _int(query, "end"))
            return 200, {
                "entries": [
                    {"leaf_input": _b64(e.leaf_input), "extra_data": _b64(e.extra_data)}
                    for e in items
                ]
            }
        if name == "get-roots":
            return 200, {"certificates": [_b64(r.public_bytes(Encoding.DER)) for r in self.roots]}
        return 404, {"error_message": f"unknown endpoint {name}"}

    def _sct_json(self, sct: Sct) -> dict[str, Any]:
        log_id, signature = sct.log_id, sct.signature
        if "wrong_log_id" in self.faults:
            log_id = hashlib.sha256(b"another log" + log_id).digest()
        if "bad_signature" in self.faults:
            signature = self.key.sign(b"something else", ec.ECDSA(hashes.SHA256()))
        ds = tls.uint(sct.hash_algorithm, 1) + tls.uint(sct.signature_algorithm, 1)
        return {
            "sct_version": sct.version,
            "id": _b64(log_id),
            "timestamp": sct.timestamp,
            "extensions": _b64(sct.extensions),
            "signature": _b64(ds + tls.vector(signature, 2)),
        }


def _is_precert_signing(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return any(u.dotted_string == EKU_PRECERT_SIGNING for u in eku)


def _chain(body: bytes) -> list[bytes]:
    try:
        doc = json.loads(body)
        chain = doc["chain"]
        if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
            raise TypeError
        return [base64.b64decode(c, validate=True) for c in chain]
    except (ValueError, KeyError, TypeError):
        raise Rejected('body must be {"chain": [base64 DER, ...]}') from None


def _int(query: dict[str, str], name: str) -> int:
    try:
        return int(query[name])
    except (KeyError, ValueError):
        raise Rejected(f"parameter {name} must be an integer") from None


def _b64_param(query: dict[str, str], name: str) -> bytes:
    try:
        # a "+" a client left unescaped arrives as a space
        return base64.b64decode(query[name].replace(" ", "+"), validate=True)
    except (KeyError, ValueError):
        raise Rejected(f"parameter {name} must be base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
