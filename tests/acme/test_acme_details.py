"""ACME details real clients depend on: CSRs with a non-zero version, every malformed CSR a
badCSR (never a 500), ARI during an incident, `replaces` sharing an identifier, and a
valid authorization rebuilt from a stored validation naming its challenge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from certkeeper.acme.ari import INCIDENT_RETRY_AFTER_SECONDS, cert_id_of
from certkeeper.settings.acme import MAX_RETRY_AFTER_SECONDS
from certkeeper.store.tables import acme_authorizations
from certkeeper.x509.der import encode_integer, parse_single, tlv

from .client import AcmeClient, b64, http
from .conftest import ChallengeWeb, Served
from .helpers import make_csr, obtain, open_incident, solve_http


def with_version(names: list[str], version: int) -> tuple[bytes, Any]:
    """A CSR whose CertificationRequestInfo says `version`, properly signed over it."""
    der, key = make_csr(names)
    outer = parse_single(der)
    info, algorithm, _signature = outer.children()
    _old, *fields = info.children()
    new_info = tlv(0x30, encode_integer(version) + b"".join(f.raw for f in fields))
    signature = key.sign(new_info, ec.ECDSA(hashes.SHA256()))
    return tlv(0x30, new_info + algorithm.raw + tlv(0x03, b"\x00" + signature)), key


def ready_order(client: AcmeClient, web: ChallengeWeb, names: list[str]) -> dict[str, Any]:
    reply = client.new_order(names)
    assert reply.status == 201, reply.body
    order = reply.json()
    for authz_url in order["authorizations"]:
        assert solve_http(client, web, authz_url)["status"] == "valid"
    return dict(order)


def renewal_info(served: Served, cert: x509.Certificate) -> tuple[int, dict[str, str]]:
    reply = http("GET", f"{served.base}/acme/renewal-info/{cert_id_of(cert).text()}")
    return reply.status, dict(reply.headers)


def test_a_csr_with_version_1_is_accepted(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    order = ready_order(client, web, ["v1csr.example.com"])
    csr, _ = with_version(["v1csr.example.com"], 1)
    with_bad_signature = bytearray(csr)
    with_bad_signature[-3] ^= 0x01  # the signature over the version-1 request must verify
    refused = client.post(order["finalize"], {"csr": b64(bytes(with_bad_signature))})
    assert refused.status == 400 and refused.problem == "badCSR", refused.body
    assert "signature" in refused.json()["detail"]
    final = client.post(order["finalize"], {"csr": b64(csr)})
    assert final.status == 200, final.body
    assert final.json()["status"] == "valid"


@dataclass
class Target:
    client: AcmeClient
    order: dict[str, Any]
    csr: bytes


def test_every_mutated_csr_is_a_badcsr_never_a_500(served: Served, web: ChallengeWeb) -> None:
    names = ["fuzz.example.com"]
    client = served.client()
    client.register()
    target = Target(client, ready_order(client, web, names), make_csr(names)[0])

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        cuts=st.lists(
            st.tuples(
                st.integers(0, len(target.csr) - 1),
                st.sampled_from(["flip", "set", "cut", "insert"]),
                st.integers(0, 255),
            ),
            min_size=1,
            max_size=3,
        ),
        version=st.sampled_from([None, 1, 2, 255, 70000, -1]),
    )
    def check(cuts: list[tuple[int, str, int]], version: int | None) -> None:
        data = bytearray(target.csr if version is None else with_version(names, version)[0])
        for at, how, value in cuts:
            if not data:
                break
            at %= len(data)
            if how == "flip":
                data[at] ^= value or 1
            elif how == "set":
                data[at] = value
            elif how == "cut":
                del data[at:]
            else:
                data[at:at] = bytes([value])
        reply = target.client.post(target.order["finalize"], {"csr": b64(bytes(data))})
        assert reply.status != 500, reply.body
        if reply.status == 200:  # a mutation that left a valid request: a new order
            target.order = ready_order(target.client, web, names)
            return
        assert reply.status == 400 and reply.problem == "badCSR", reply.body
        assert "\n" not in reply.json()["detail"]

    check()


def test_ari_retry_after_is_short_during_an_incident(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["ari-retry.example.com"])
    status, headers = renewal_info(served, got.certificate)
    assert status == 200
    quiet = int(headers["retry-after"])
    # the longest Retry-After bounds how late this client hears of the incident below
    assert INCIDENT_RETRY_AFTER_SECONDS < quiet <= MAX_RETRY_AFTER_SECONDS == 3600
    open_incident(served.home, got.serial, "https://ca.test/incidents/7")
    status, headers = renewal_info(served, got.certificate)
    assert status == 200
    assert 0 < int(headers["retry-after"]) <= INCIDENT_RETRY_AFTER_SECONDS


def test_replaces_must_share_an_identifier(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["old-name.example.com"])
    cert_id = cert_id_of(got.certificate).text()
    refused = client.new_order(["new-name.example.com"], replaces=cert_id)
    assert refused.status == 400 and refused.problem == "malformed", refused.body
    assert "shares no identifier" in refused.json()["detail"]
    partly = client.new_order(["old-name.example.com", "extra.example.com"], replaces=cert_id)
    assert partly.status == 201, partly.body


def test_authorization_rebuilt_from_a_validation_lists_its_challenge(
    served: Served, web: ChallengeWeb
) -> None:
    client = served.client()
    client.register()
    name = "rebuilt.example.com"
    first = ready_order(client, web, [name])
    authz_url = first["authorizations"][0]
    # the authorization expires; the validation record behind it is still reusable
    authz_id = int(authz_url.rsplit("/", 1)[1])
    with served.home.inventory.engine.begin() as conn:
        conn.execute(
            update(acme_authorizations)
            .where(acme_authorizations.c.id == authz_id)
            .values(expires=acme_authorizations.c.created_at)
        )
    again = client.new_order([name]).json()
    assert again["status"] == "ready"
    assert again["authorizations"] != first["authorizations"]
    authz = client.post(again["authorizations"][0], None).json()
    assert authz["status"] == "valid"
    assert [(c["type"], c["status"]) for c in authz["challenges"]] == [("http-01", "valid")]
    assert authz["challenges"][0]["validated"]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            {"renewal_info_retry_after": 3601},
            r"renewal_info_retry_after: 3601 is outside 60\.\.3600",
        ),
        ({"renewal_info_retry_after": 21600}, "renewal_info_retry_after: 21600 is outside"),
        (
            {"challenge_answer_wait_seconds": -1},
            "challenge_answer_wait_seconds: -1 is outside 0..10",
        ),
        ({"challenge_answer_wait_seconds": 11.5}, "challenge_answer_wait_seconds: 11.5 is outside"),
        ({"challenge_answer_wait_seconds": "soon"}, "challenge_answer_wait_seconds: expected"),
        ({"challenge_answer_wait_seconds": True}, "challenge_answer_wait_seconds: expected"),
    ],
)
def test_timing_settings_out_of_bounds_are_named(table: dict[str, object], problem: str) -> None:
    """The longest Retry-After bounds how late a client hears of an incident: no config
    may lengthen it; the challenge wait is bounded too."""
    from certkeeper.settings.acme import parse_acme
    from certkeeper.tomlcheck import TomlProblem

    with pytest.raises(TomlProblem, match=problem):
        parse_acme(table, "t")
    assert parse_acme({"challenge_answer_wait_seconds": 0}, "t").challenge_answer_wait_seconds == 0
