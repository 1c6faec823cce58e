"""Property tests: the DER reader and the time decoders round-trip and fail only cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.lint.document.loading import load_document
from certkeeper.x509 import der
from certkeeper.x509.der import DerError
from certkeeper.x509.time import (
    TimeEncodingError,
    decode_time,
    encode_generalized_time,
    encode_time,
)

moments = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(moments)
def test_encode_decode_time_round_trip(moment: datetime) -> None:
    encoded = encode_time(moment)
    t = der.parse_single(encoded)
    decoded = decode_time(t.tag, t.content)
    assert decoded.value == moment.replace(microsecond=0)
    assert decoded.problems == ()
    assert (t.tag == der.UTC_TIME) == (moment.year < 2050)


@given(moments)
def test_generalized_time_never_has_fractions(moment: datetime) -> None:
    t = der.parse_single(encode_generalized_time(moment))
    assert b"." not in t.content and t.content.endswith(b"Z") and len(t.content) == 15


@given(st.sampled_from([der.UTC_TIME, der.GENERALIZED_TIME]), st.binary(max_size=24))
def test_time_decoder_fails_only_with_time_encoding_error(tag: int, content: bytes) -> None:
    try:
        decoded = decode_time(tag, content)
    except TimeEncodingError:
        return
    assert decoded.value.tzinfo is not None


@given(st.integers(min_value=0, max_value=2**200))
def test_integer_round_trip_is_minimal(value: int) -> None:
    encoded = der.encode_integer(value)
    t = der.parse_single(encoded)
    assert der.decode_integer(t.content) == value
    assert der.integer_is_minimal(t.content)


@given(st.integers(min_value=-(2**200), max_value=-1))
def test_negative_integer_round_trip(value: int) -> None:
    t = der.parse_single(der.encode_integer(value))
    assert der.decode_integer(t.content) == value


@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_every_integer_encoding_is_minimal(value: int) -> None:
    content = der.parse_single(der.encode_integer(value)).content
    assert der.integer_is_minimal(content)
    assert der.decode_integer(content) == value


def test_boundary_integers() -> None:
    assert der.encode_integer(-128) == bytes.fromhex("020180")
    assert der.encode_integer(-129) == bytes.fromhex("0202ff7f")
    assert der.encode_integer(127) == bytes.fromhex("02017f")
    assert der.encode_integer(128) == bytes.fromhex("02020080")
    assert der.encode_integer(0) == bytes.fromhex("020100")


@given(
    st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=8),
    st.integers(0, 2),
    st.integers(0, 39),
)
def test_oid_round_trip(arcs: list[int], first: int, second: int) -> None:
    dotted = ".".join(str(a) for a in [first, second, *arcs])
    encoded = der.encode_oid(dotted)
    assert der.decode_oid(der.parse_single(encoded).content) == dotted


nested = st.recursive(
    st.binary(max_size=300).map(lambda b: der.tlv(der.OCTET_STRING, b)),
    lambda inner: st.lists(inner, max_size=4).map(lambda kids: der.sequence(*kids)),
    max_leaves=12,
)


@given(nested)
def test_tlv_tree_round_trip(encoded: bytes) -> None:
    t = der.parse_single(encoded)
    assert t.raw == encoded
    if t.constructed:
        assert b"".join(k.raw for k in t.children()) == t.content


@given(st.binary(max_size=200))
def test_reader_fails_only_with_der_error(data: bytes) -> None:
    try:
        t = der.parse_single(data)
        if t.constructed:
            t.children()
    except DerError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_document_loader_never_crashes(data: bytes) -> None:
    from certkeeper.errors import InputError

    try:
        load_document(b"\x30" + data)
        load_document(data)
    except InputError:
        pass
