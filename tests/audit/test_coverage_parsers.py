"""The pure parts of the status audits: request template, response walk, lint cache,
classification, HTTP framing. Property tests for everything that reads bytes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.status_audit_helpers import UNKNOWN, HandMade, World, build_world
from certkeeper.audit.coverage_model import (
    CRL_NOT_LISTED,
    CrlView,
    Expect,
    Kind,
    OcspView,
    Revoked,
    Target,
    classify,
)
from certkeeper.audit.ocsp_client import OcspHttpClient, TransportFailure
from certkeeper.audit.ocsp_lint_cache import OcspLintCache
from certkeeper.audit.ocsp_request import RequestTemplate
from certkeeper.audit.ocsp_response import ResponseParseError, parse_response
from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.x509.ocsp import (
    UNAUTHORIZED,
    CertId,
    ResponseTemplate,
    Revocation,
    encode_request,
    parse_request,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
serials = st.integers(min_value=1, max_value=(1 << 159) - 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("parsers"), count=2)


@pytest.fixture(scope="module")
def forge(world: World) -> HandMade:
    return HandMade(world.home)


@given(serial=serials)
def test_template_requests_equal_the_encoder(serial: int) -> None:
    issuer = _issuer_der()
    tpl = RequestTemplate.for_issuer("ca", issuer)
    from certkeeper.x509.ocsp import cert_id_for

    expected = encode_request([cert_id_for(issuer, serial)])
    assert tpl.request(serial) == expected
    parsed = parse_request(tpl.request(serial))
    assert parsed.cert_ids[0].serial_number == serial


_ISSUER: list[bytes] = []


def _issuer_der() -> bytes:
    if not _ISSUER:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parser Test CA")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        _ISSUER.append(cert.public_bytes(serialization.Encoding.DER))
    return _ISSUER[0]


class _FakeSigner:
    """Signature bytes are opaque to the walker; a fixed value keeps examples fast."""

    def sign(self, data: bytes) -> bytes:
        return b"\x30\x06\x02\x01\x01\x02\x01\x01"


_SIG_ALG = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256


def _template() -> ResponseTemplate:
    return ResponseTemplate.create(_issuer_der(), _issuer_der(), _SIG_ALG)


times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@given(
    serial=serials,
    this_update=times,
    hours=st.integers(min_value=1, max_value=240),
    revoked=st.none() | st.tuples(times, st.sampled_from([None, 1, 3, 4, 5, 9])),
)
def test_walk_reads_what_the_encoder_wrote(
    serial: int,
    this_update: datetime,
    hours: int,
    revoked: tuple[datetime, int | None] | None,
) -> None:
    tpl = _template()
    revocation = Revocation(revoked[0], revoked[1]) if revoked else None
    der = tpl.sign(
        _FakeSigner(),
        serial,
        this_update=this_update,
        next_update=this_update + timedelta(hours=hours),
        revocation=revocation,
    )
    parsed = parse_response(der)
    prefix = RequestTemplate.for_issuer("ca", _issuer_der()).cert_id_prefix
    single = parsed.single_for(prefix, serial)
    assert single is not None
    assert single.status == ("revoked" if revoked else "good")
    assert single.this_update == this_update
    assert single.next_update == this_update + timedelta(hours=hours)
    assert parsed.produced_at == this_update
    if revocation is not None:
        assert single.revocation_time == revocation.time
        assert single.reason == revocation.reason
    assert parsed.signature == _FakeSigner().sign(b"")
    assert parsed.signer_certificate == _issuer_der()
    # the shape ignores the serial and the signature, and nothing else
    other = tpl.sign(
        _FakeSigner(),
        serial ^ 1 if serial > 1 else 3,
        this_update=this_update,
        next_update=this_update + timedelta(hours=hours),
        revocation=revocation,
    )
    same_length = len(other) == len(der)
    if same_length:
        assert parse_response(other).shape == parsed.shape
    later = tpl.sign(
        _FakeSigner(),
        serial,
        this_update=this_update + timedelta(seconds=1),
        next_update=this_update + timedelta(hours=hours),
        revocation=revocation,
    )
    assert parse_response(later).shape != parsed.shape


@given(data=st.binary(max_size=600))
def test_walk_refuses_garbage_with_its_own_error(data: bytes) -> None:
    with contextlib.suppress(ResponseParseError):
        parse_response(data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(min_value=0, max_value=2000))
def test_walk_of_damaged_responses_never_crashes(cut: int, flip: int) -> None:
    der = _template().sign(
        _FakeSigner(), 12345, this_update=NOW, next_update=NOW + timedelta(days=4)
    )
    damaged = bytearray(der[: cut % (len(der) + 1)])
    if damaged:
        damaged[flip % len(damaged)] ^= 0x41
    with contextlib.suppress(ResponseParseError):
        parse_response(bytes(damaged))


def test_error_responses_are_read_as_their_status() -> None:
    parsed = parse_response(UNAUTHORIZED)
    assert parsed.response_status == 6 and parsed.status_name == "unauthorized"


def test_lint_cache_reports_what_the_full_catalogue_reports(world: World, forge: HandMade) -> None:
    """A stream mixing shapes: the cache must give, response by response, the lint ids
    run_lints gives, including a broken signature and a negative serial inside a
    shape it has already seen."""
    serial = int(world.issued[0], 16)
    good = [forge.response(serial + i, now=NOW) for i in range(3)]
    bad_sig = bytearray(good[1])
    bad_sig[-80] ^= 0x01  # inside the signature value, before the certs
    fractional = forge.response(serial, fraction=".25", now=NOW)
    unknown = forge.response(serial, status=UNKNOWN, now=NOW)
    negative = forge.response(-5, now=NOW)
    stream = [*good, bytes(bad_sig), fractional, good[2], unknown, negative, UNAUTHORIZED, b"\x30"]
    cache = OcspLintCache()
    from cryptography import x509

    ctx = LintContext(issuer=x509.load_der_x509_certificate(world.issuer_der))
    for der in stream:
        try:
            parsed = parse_response(der)
        except ResponseParseError:
            parsed = None
        got = sorted(f.lint_id for f in cache.check(der, parsed, world.issuer_der).findings)
        want = sorted(f.lint_id for f in run_lints(OcspResponseDocument.from_der(der), ctx))
        assert got == want, der.hex()
    assert cache.cached >= 1  # the shape cache was used


def _target(expect: Expect = Expect.issued, **kw: object) -> Target:
    return Target(serial=0xABC, issuer="ca", expect=expect, **kw)  # type: ignore[arg-type]


GOOD_VIEW = OcspView("good", None, "", NOW, NOW + timedelta(days=4))
REV = Revoked(NOW - timedelta(hours=2), 1)


@pytest.mark.parametrize(
    ("target", "view", "expected"),
    [
        (_target(), GOOD_VIEW, []),
        (_target(), OcspView("unknown"), [Kind.unknown]),
        (_target(), OcspView("tryLater"), [Kind.no_status]),
        (_target(Expect.unused), GOOD_VIEW, [Kind.unused_good]),
        (_target(Expect.unassigned), GOOD_VIEW, [Kind.unassigned_good]),
        (_target(Expect.unassigned), OcspView("unauthorized"), []),
        (
            _target(inventory_revoked=REV, crl=CrlView(True, REV), check_crl=True),
            OcspView("revoked", REV),
            [],
        ),
        (
            _target(inventory_revoked=REV, crl=CRL_NOT_LISTED, check_crl=True),
            OcspView("revoked", REV),
            [Kind.revoked_missing_from_crl],
        ),
        (
            _target(inventory_revoked=REV, crl=CrlView(True, REV), check_crl=True),
            GOOD_VIEW,
            [Kind.status_mismatch],
        ),
        (
            _target(inventory_revoked=REV, crl=CrlView(True, Revoked(REV.time, 4)), check_crl=True),
            OcspView("revoked", REV),
            [Kind.status_mismatch],
        ),
        (
            # unspecified (0) on one side and absent on the other are the same statement
            _target(Expect.foreign, crl=CrlView(True, Revoked(REV.time, 0)), check_crl=True),
            OcspView("revoked", Revoked(REV.time, None)),
            [],
        ),
        (_target(), OcspView("transport", detail="refused"), [Kind.transport_error]),
        (_target(), OcspView("good", None, "", NOW, NOW - timedelta(seconds=1)), [Kind.ocsp_stale]),
        (_target(), OcspView("good", None, "", NOW + timedelta(hours=1), None), [Kind.ocsp_stale]),
    ],
)
def test_classification(target: Target, view: OcspView, expected: list[Kind]) -> None:
    assert [f.kind for f in classify(target, view, None, NOW)] == expected


class _RawServer:
    """A loopback HTTP/1.1 server answering from a script of raw byte strings, one per
    request, to test the client's framing (chunked, close-delimited, keep-alive)."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                answer = self.answers.pop(0)
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def _exchange(answers: list[bytes], count: int) -> tuple[list[bytes | TransportFailure], int]:
    server = _RawServer(answers)
    got: list[bytes | TransportFailure] = []

    async def main() -> None:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        client = OcspHttpClient(
            f"http://127.0.0.1:{port}/ocsp", connections=1, pipeline=4, retries=1, backoff=0.01
        )
        await client.run([(i, b"req") for i in range(count)], lambda _k, r: got.append(r))
        srv.close()

    asyncio.run(main())
    return got, server.connections


def test_client_framing_chunked_close_delimited_and_keep_alive() -> None:
    body = UNAUTHORIZED
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (
        f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
    got, connections = _exchange([chunked, plain, closing, plain], 4)
    assert got == [body] * 4
    assert connections == 2  # reconnected once, after the close-delimited answer


def test_client_reports_http_errors_without_retrying_them() -> None:
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    got, _ = _exchange([not_found], 1)
    assert isinstance(got[0], TransportFailure) and got[0].reason == "HTTP 404"


def test_client_retries_a_garbled_answer_then_gives_up() -> None:
    garbage = b"SPDY/9 what\r\n\r\n"
    got, connections = _exchange([garbage, garbage], 1)
    assert isinstance(got[0], TransportFailure)
    assert got[0].attempts == 2 and "status line" in got[0].reason
    assert connections == 2


def test_template_cert_ids_are_sha1() -> None:
    tpl = RequestTemplate.for_issuer("ca", _issuer_der())
    cid = parse_request(tpl.request(77)).cert_ids[0]
    assert isinstance(cid, CertId) and cid.hash_algorithm == "sha1"
