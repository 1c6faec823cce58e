"""Merkle trees (RFC 6962 2.1): the published test vectors, and every proof the log
hands out checked by the independent verifier (RFC 9162 2.1.3.2, 2.1.4.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.ct import merkle

# The leaves and roots of the RFC 6962 reference implementation's test tree.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_roots_match_the_reference_vectors() -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES]
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    for n, expected in enumerate(ROOTS, start=1):
        assert merkle.root(hashes[:n]).hex() == expected


sizes = st.integers(min_value=1, max_value=70)


@given(sizes, st.data())
def test_every_audit_path_verifies_and_a_wrong_leaf_does_not(n: int, data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.audit_path(m, hashes)
    root = merkle.root(hashes)
    assert merkle.root_from_path(m, n, hashes[m], path) == root
    assert merkle.root_from_path(m, n, merkle.leaf_hash(b"other"), path) != root


@given(sizes, st.data())
def test_every_consistency_proof_verifies_and_a_forked_tree_does_not(
    n: int, data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = merkle.consistency_proof(m, hashes)
    old, new = merkle.root(hashes[:m]), merkle.root(hashes)
    assert merkle.verify_consistency(m, n, old, new, proof)
    forked = [merkle.leaf_hash(b"fork"), *hashes[1:m]]
    if m < n:
        assert not merkle.verify_consistency(m, n, merkle.root(forked), new, proof)
