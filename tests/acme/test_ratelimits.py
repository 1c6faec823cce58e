"""Rate limits hit over HTTP (429 rateLimited with Retry-After), counted in the database,
and the incident-replacement exemption."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certkeeper.acme.ari import cert_id_of
from certkeeper.acme.ratelimits import registered_domain
from certkeeper.store.acme import AcmeStore, Quota
from certkeeper.store.database import connect, migrate, sqlite_url

from .client import AcmeClient, Reply, b64
from .conftest import ChallengeWeb, Served, ServerFactory
from .helpers import make_csr, obtain, open_incident, solve_http


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


def _ready_order(client: AcmeClient, web: ChallengeWeb, name: str) -> dict[str, Any]:
    reply = client.new_order([name])
    assert reply.status == 201, reply.body
    order = dict(reply.json())
    for authz_url in order["authorizations"]:
        assert solve_http(client, web, authz_url)["status"] == "valid"
    return order


def test_certificates_per_domain_are_counted_at_finalize(
    server_factory: ServerFactory, web: ChallengeWeb
) -> None:
    """Orders opened in advance, and accounts finalizing in parallel, cannot issue more
    certificates per registered domain than the limit: it is taken at finalize, in one
    transaction with the count."""
    served = server_factory(certificates_per_domain_per_week=3, accounts_per_ip_per_3_hours=0)
    clients = [served.client() for _ in range(8)]
    orders = []
    for i, client in enumerate(clients):
        client.register()
        orders.append(_ready_order(client, web, f"p{i}.advance.example.net"))  # all pass

    def finalize(pair: tuple[AcmeClient, dict[str, Any]]) -> Reply:
        client, order = pair
        csr, _ = make_csr([order["identifiers"][0]["value"]])
        return client.post(order["finalize"], {"csr": b64(csr)})

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(finalize, zip(clients, orders, strict=True)))
    issued = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status == 429]
    assert len(issued) == 3, [r.body for r in replies]
    assert len(refused) == 5 and all(r.problem == "rateLimited" for r in refused)
    assert all("(example.net)" in r.json()["detail"] for r in refused)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Any) -> AcmeStore:
    url = sqlite_url(tmp_path / "q.db") if request.param == "sqlite" else new_pg_database()
    engine = connect(url)
    migrate(engine)
    return AcmeStore(engine)


def test_take_quota_has_exactly_limit_winners(store: AcmeStore) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    quotas = [Quota("certs:example.org", 3, now - timedelta(days=7))]

    def take(_: int) -> bool:
        return isinstance(store.take_quota(quotas, now), list)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(take, range(24)))
    assert results.count(True) == 3
    assert store.count_events("certs:example.org", now - timedelta(days=7))[0] == 3
