"""Bad input to the CT parsers is one named error, never a traceback."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from certkeeper.cli.main import app
from certkeeper.ct import tls
from certkeeper.ct.entries import leaf_input, parse_entry
from certkeeper.ct.loglist import LogListError, parse_log_list
from certkeeper.ct.sct import SignedEntry
from certkeeper.ct.tls import TlsDecodeError
from dnsserver import free_port

from .served import MiniCa

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["operators", "logs", "name", "key", "log_id", "url", "state", "temporal_interval", "mmd"]
)
log_lists = st.recursive(
    st.none() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@given(json_values | log_lists)
def test_any_json_is_a_log_list_or_one_log_list_error(doc: Any) -> None:
    try:
        parse_log_list(json.dumps(doc), "list.json")
    except LogListError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("CT log list list.json: ")


certs = st.binary(min_size=1, max_size=60)


@given(
    st.integers(0, 2**64 - 1),
    st.booleans(),
    st.binary(min_size=32, max_size=32),
    certs,
    st.lists(certs, max_size=3),
)
def test_log_entries_round_trip(
    timestamp: int, precert: bool, key_hash: bytes, body: bytes, chain: list[bytes]
) -> None:
    entry = SignedEntry.precert(key_hash, body) if precert else SignedEntry.x509(body)
    chain_vector = tls.vector(b"".join(tls.vector(c, 3) for c in chain), 3)
    extra = (tls.vector(b"PRE" + body, 3) if precert else b"") + chain_vector
    parsed = parse_entry(7, leaf_input(timestamp, entry), extra)
    assert (parsed.timestamp, parsed.entry, parsed.chain) == (timestamp, entry, tuple(chain))
    assert parsed.der == (b"PRE" + body if precert else body)
    assert parsed.issuer_key_hash == (key_hash if precert else None)


@given(st.binary(max_size=120), st.binary(max_size=60))
def test_arbitrary_entries_raise_only_tls_decode_error(leaf: bytes, extra: bytes) -> None:
    with contextlib.suppress(TlsDecodeError):
        parse_entry(0, leaf, extra)


def test_audit_ct_against_a_dead_log_is_one_line(tmp_path: Path) -> None:
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(
        MiniCa.create(datetime(2026, 11, 2, tzinfo=UTC)).issuer.public_bytes(Encoding.PEM)
    )
    port = free_port()
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "ct",
            "--log",
            f"http://127.0.0.1:{port}/",
            "--issuer",
            str(issuer),
            "--out",
            str(tmp_path / "out"),
            "--state",
            str(tmp_path / "state"),
        ],
    )
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert f"127.0.0.1:{port}" in result.output and "attempts" in result.output


@pytest.mark.parametrize("bad", ["nothing", "{}", '{"operators": [{"name": "x"}]}'])
def test_a_broken_log_list_stops_issuance_setup_with_one_line(tmp_path: Path, bad: str) -> None:
    from certkeeper.ct.loglist import load_log_list

    path = tmp_path / "log_list.json"
    path.write_text(bad)
    with pytest.raises(LogListError) as info:
        load_log_list(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)
