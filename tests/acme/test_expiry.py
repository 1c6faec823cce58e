"""Time: orders and authorizations expire (RFC 8555 7.1.6), and so do nonces; driven by a
server clock the test moves."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.orders import check_identifiers
from certkeeper.acme.problems import AcmeProblem

from .client import jws
from .conftest import ChallengeWeb, ServerFactory


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_order_and_authorization_expire(server_factory: ServerFactory) -> None:
    clock = Clock()
    served = server_factory(
        clock=clock,
        order_lifetime_hours=2,
        authorization_lifetime_hours=2,
        nonce_lifetime_seconds=7200,
        accounts_per_ip_per_3_hours=0,
    )
    client = served.client()
    client.register()
    reply = client.new_order(["expiring.example.com"])
    order_url = reply.headers["location"]
    authz_url = reply.json()["authorizations"][0]
    assert client.post(order_url, None).json()["status"] == "pending"
    clock.offset = timedelta(hours=3)
    order = client.post(order_url, None).json()
    assert order["status"] == "invalid"
    authz = client.post(authz_url, None).json()
    assert authz["status"] == "expired"
    # An expired authorization cannot be validated any more.
    chall = authz["challenges"][0]
    refused = client.post(chall["url"], {})
    assert refused.status == 400 and refused.problem == "malformed"


def test_nonce_expires(server_factory: ServerFactory) -> None:
    clock = Clock()
    served = server_factory(clock=clock, nonce_lifetime_seconds=60, accounts_per_ip_per_3_hours=0)
    client = served.client()
    client.register()
    assert client.kid is not None
    nonce = client.nonce()
    clock.offset = timedelta(seconds=120)
    body = jws(client.key, {"nonce": nonce, "url": client.kid, "kid": client.kid}, b"")
    reply = client.send(client.kid, body)
    assert reply.status == 400 and reply.problem == "badNonce"
    assert "expired" in reply.json()["detail"]


@given(
    st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["dns", "ip", "DNS"]), "value": st.text(max_size=70)}
        ),
        max_size=4,
    )
)
def test_identifier_parser_accepts_only_a_label_dns_names(value: list[dict[str, str]]) -> None:
    try:
        names = check_identifiers(value, 100)
    except AcmeProblem as problem:
        assert problem.type in ("malformed", "unsupportedIdentifier", "rejectedIdentifier")
        return
    for name in names:
        assert name == name.lower() and name.isascii() and not name.endswith(".")
        assert "*" not in name.removeprefix("*.")


def test_interrupted_validation_is_failed_and_a_late_answer_ignored(
    server_factory: ServerFactory, web: ChallengeWeb
) -> None:
    clock = Clock()
    served = server_factory(clock=clock, nonce_lifetime_seconds=7200, accounts_per_ip_per_3_hours=0)
    client = served.client()
    client.register()
    reply = client.new_order(["interrupted.example.com"])
    authz_url = reply.json()["authorizations"][0]
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
    web.tokens[chall["token"]] = client.key_authorization(chall["token"])
    web.delay[chall["token"]] = 1.5
    assert client.post(chall["url"], {}).json()["status"] == "processing"
    clock.offset = timedelta(minutes=6)  # as if the validating process had died
    failed = client.post(authz_url, None).json()
    assert failed["status"] == "invalid"
    stale = next(c for c in failed["challenges"] if c["type"] == "http-01")
    assert stale["error"]["type"] == "urn:ietf:params:acme:error:serverInternal"
    time.sleep(2.0)  # the slow answer arrives: it must not revive the challenge
    after = client.post(authz_url, None).json()
    assert after["status"] == "invalid"
    assert next(c for c in after["challenges"] if c["type"] == "http-01")["status"] == "invalid"
    assert client.post(reply.headers["location"], None).json()["status"] == "invalid"
