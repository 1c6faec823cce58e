"""The ARI certID (RFC 9773 4.1) as our test client builds it and as the server reads it.

The client's encoder and the server's parser are separate code: they must agree on every
serial, in particular those whose top bit needs a leading zero octet in DER.
"""

from __future__ import annotations

import pytest
from acme_client import cert_id_text
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.ari import CertId, parse_cert_id

serials = st.one_of(
    st.integers(min_value=1, max_value=(1 << 159) - 1),
    st.sampled_from([1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, (1 << 159) - 1, 1 << 63]),
)
key_ids = st.binary(min_size=1, max_size=32)


@given(key_id=key_ids, serial=serials)
def test_client_cert_id_is_what_the_server_parses(key_id: bytes, serial: int) -> None:
    text = cert_id_text(key_id, serial)
    assert parse_cert_id(text) == CertId(key_id, serial)
    assert text == CertId(key_id, serial).text()


def test_rfc_9773_example() -> None:
    """RFC 9773 4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
    and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"."""
    key_id = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert cert_id_text(key_id, 0x87654321) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_negative_serial_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        cert_id_text(b"\x01", -1)
