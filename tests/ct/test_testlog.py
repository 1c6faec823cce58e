"""The RFC 6962 test log over HTTP: SCTs that verify, STHs, proofs a client can check."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.ct import merkle, tls
from certkeeper.ct.entries import leaf_input
from certkeeper.ct.sct import SignatureType, precert_entry, verify_sct
from certkeeper.ct.submit import sct_from_json

from .served import MiniCa, ServedLog, served_logs

T = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> MiniCa:
    return MiniCa.create(T)


@pytest.fixture
def served(ca: MiniCa) -> Iterator[ServedLog]:
    with served_logs([ca.chain()[-1]], ["Op"]) as logs:
        yield logs[0]


def call(served: ServedLog, name: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
    url = f"{served.url}ct/v1/{name}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_add_pre_chain_gives_a_verifying_sct_and_a_provable_entry(
    served: ServedLog, ca: MiniCa
) -> None:
    pres = [ca.precertificate(T) for _ in range(5)]
    answers = [
        call(served, "add-pre-chain", {"chain": [b64(p), *map(b64, ca.chain())]}) for p in pres
    ]
    for pre, answer in zip(pres, answers, strict=True):
        sct = sct_from_json(json.dumps(answer).encode())
        verify_sct(sct, served.log.spki, precert_entry(pre, ca.issuer))
    # the same submission again: an SCT with the same timestamp, no new entry
    again = call(served, "add-pre-chain", {"chain": [b64(pres[0]), *map(b64, ca.chain())]})
    assert (again["id"], again["timestamp"]) == (answers[0]["id"], answers[0]["timestamp"])
    verify_sct(
        sct_from_json(json.dumps(again).encode()),
        served.log.spki,
        precert_entry(pres[0], ca.issuer),
    )

    sth = call(served, "get-sth")
    assert sth["tree_size"] == 5
    data = (
        tls.uint(0, 1)
        + tls.uint(SignatureType.TREE_HASH, 1)
        + tls.uint(sth["timestamp"], 8)
        + tls.uint(5, 8)
        + base64.b64decode(sth["sha256_root_hash"])
    )
    signed = base64.b64decode(sth["tree_head_signature"])
    r = tls.Reader(signed, "sth")
    assert (r.uint(1), r.uint(1)) == (4, 3)
    served.log.key.public_key().verify(r.vector(2), data, ec.ECDSA(hashes.SHA256()))

    entries = call(served, "get-entries", start=0, end=10)["entries"]
    assert len(entries) == 5
    leaf = base64.b64decode(entries[2]["leaf_input"])
    sct = sct_from_json(json.dumps(answers[2]).encode())
    assert leaf == leaf_input(sct.timestamp, precert_entry(pres[2], ca.issuer))
    leaf_hash = merkle.leaf_hash(leaf)
    proof = call(served, "get-proof-by-hash", hash=b64(leaf_hash).replace("+", "%2B"), tree_size=5)
    path = [base64.b64decode(p) for p in proof["audit_path"]]
    assert proof["leaf_index"] == 2
    root = merkle.root_from_path(2, 5, leaf_hash, path)
    assert b64(root) == sth["sha256_root_hash"]
    extra = tls.Reader(base64.b64decode(entries[2]["extra_data"]), "extra")
    assert extra.vector(3) == pres[2]


def test_consistency_between_two_tree_heads(served: ServedLog, ca: MiniCa) -> None:
    for _ in range(3):
        call(served, "add-pre-chain", {"chain": [b64(ca.precertificate(T)), *map(b64, ca.chain())]})
    old = call(served, "get-sth")
    for _ in range(4):
        call(served, "add-pre-chain", {"chain": [b64(ca.precertificate(T)), *map(b64, ca.chain())]})
    new = call(served, "get-sth")
    proof = call(served, "get-sth-consistency", first=3, second=7)["consistency"]
    assert merkle.verify_consistency(
        3,
        7,
        base64.b64decode(old["sha256_root_hash"]),
        base64.b64decode(new["sha256_root_hash"]),
        [base64.b64decode(p) for p in proof],
    )
    roots = call(served, "get-roots")["certificates"]
    assert [base64.b64decode(r) for r in roots] == [ca.chain()[-1]]


def test_the_log_refuses_what_it_must(served: ServedLog, ca: MiniCa) -> None:
    pre = ca.precertificate(T)
    stranger = MiniCa.create(T)

    def refused(name: str, chain: list[bytes]) -> str:
        with pytest.raises(urllib.error.HTTPError) as info:
            call(served, name, {"chain": [b64(c) for c in chain]})
        assert info.value.code == 400
        return str(json.loads(info.value.read())["error_message"])

    assert "precertificate" in refused("add-pre-chain", [ca.chain()[0], ca.chain()[1]])
    assert "no precertificate" in refused("add-chain", [pre, *ca.chain()])
    assert "accepted root" in refused(
        "add-pre-chain", [stranger.precertificate(T), *stranger.chain()]
    )
    assert "does not verify" in refused("add-pre-chain", [pre, *stranger.chain()])
    with pytest.raises(urllib.error.HTTPError) as info:
        call(served, "get-entries", start=5, end=1)
    assert info.value.code == 400
    leaf = x509.load_der_x509_certificate(pre)
    assert leaf.serial_number > 0
