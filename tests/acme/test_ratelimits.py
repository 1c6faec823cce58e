"""Rate limits hit over HTTP (429 rateLimited with Retry-After), counted in the database,
and the incident-replacement exemption."""

from __future__ import annotations

import pytest

from certkeeper.acme.ari import cert_id_of
from certkeeper.acme.ratelimits import registered_domain

from .conftest import ChallengeWeb, Served, ServerFactory
from .helpers import obtain, open_incident


def test_registered_domain_uses_the_public_suffix_list() -> None:
    assert registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert registered_domain("*.www.example.com") == "example.com"


def test_new_accounts_per_ip(server_factory: ServerFactory) -> None:
    served = server_factory(accounts_per_ip_per_3_hours=2)
    for _ in range(2):
        served.client().register()
    client = served.client()
    reply = client.post(
        str(client.directory["newAccount"]), {"termsOfServiceAgreed": True}, use_jwk=True
    )
    assert reply.status == 429 and reply.problem == "rateLimited"
    assert 0 < int(reply.headers["retry-after"]) <= 3 * 3600


def test_orders_per_account(server_factory: ServerFactory) -> None:
    served = server_factory(orders_per_account_per_hour=2, accounts_per_ip_per_3_hours=0)
    client = served.client()
    client.register()
    for i in range(2):
        assert client.new_order([f"o{i}.example.com"]).status == 201
    reply = client.new_order(["o3.example.com"])
    assert reply.status == 429 and reply.problem == "rateLimited"
    assert "orders per account" in reply.json()["detail"]
    assert 0 < int(reply.headers["retry-after"]) <= 3600
    # Another account has a budget of its own.
    other = served.client()
    other.register()
    assert other.new_order(["o3.example.com"]).status == 201


def test_failed_validations_per_account_and_name(
    server_factory: ServerFactory, web: ChallengeWeb
) -> None:
    served = server_factory(
        failed_validations_per_account_name_per_hour=1, accounts_per_ip_per_3_hours=0
    )
    client = served.client()
    client.register()
    for attempt in range(2):
        order = client.new_order(["nope.example.com"]).json()
        authz = client.post(order["authorizations"][0], None).json()
        chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
        web.tokens[chall["token"]] = "wrong"
        reply = client.post(chall["url"], {})
        if attempt == 0:
            assert reply.status == 200
            assert client.poll(order["authorizations"][0], ("valid", "invalid"))["status"] == (
                "invalid"
            )
        else:
            assert reply.status == 429 and reply.problem == "rateLimited"
            assert "nope.example.com" in reply.json()["detail"]


@pytest.fixture
def limited(server_factory: ServerFactory) -> Served:
    return server_factory(certificates_per_domain_per_week=1, accounts_per_ip_per_3_hours=0)


def test_certificates_per_domain_and_incident_exemption(limited: Served, web: ChallengeWeb) -> None:
    client = limited.client()
    client.register()
    first = obtain(client, web, ["a.limited.example.com"])
    # A second certificate under the same registered domain is over the weekly budget...
    refused = client.new_order(["b.limited.example.com"])
    assert refused.status == 429 and refused.problem == "rateLimited"
    assert "(example.com)" in refused.json()["detail"]
    # ...and so is a plain renewal that names the certificate it replaces,
    cert_id = cert_id_of(first.certificate).text()
    plain = client.new_order(["a.limited.example.com"], replaces=cert_id)
    assert plain.status == 429 and plain.problem == "rateLimited"
    # but once an incident asks for its replacement, the replacement is never limited.
    open_incident(limited.home, first.serial)
    renewed = obtain(client, web, ["a.limited.example.com"], replaces=cert_id)
    assert renewed.serial != first.serial
    assert renewed.order["status"] == "valid"
