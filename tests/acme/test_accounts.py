"""Account resources: terms of service, contact updates mirrored to the subscriber,
the orders list, existing-account lookup; Retry-After while a challenge is processing."""

from __future__ import annotations

from certkeeper.store.incidents import IncidentStore

from .conftest import ChallengeWeb, Served, ServerFactory


def contacts_of(served: Served, account_url: str) -> list[tuple[str, str]]:
    from certkeeper.store.acme import AcmeStore

    account = AcmeStore(served.home.inventory.engine).account(int(account_url.rsplit("/", 1)[1]))
    assert account is not None
    return IncidentStore(served.home.inventory.engine).contacts(account.subscriber_id)


def test_terms_of_service_must_be_agreed(server_factory: ServerFactory) -> None:
    tos = "https://ca.test/terms-v1.pdf"
    served = server_factory(terms_of_service=tos, accounts_per_ip_per_3_hours=0)
    client = served.client()
    assert client.directory["meta"]["termsOfService"] == tos
    reply = client.post(str(client.directory["newAccount"]), {"contact": []}, use_jwk=True)
    assert reply.status == 403 and reply.problem == "userActionRequired"
    assert tos in reply.headers["link"]
    assert client.register().status == 201


def test_contact_update_reaches_incident_contacts(served: Served) -> None:
    client = served.client()
    client.register(["mailto:first@example.com"])
    assert client.kid is not None
    assert contacts_of(served, client.kid) == [("first@example.com", "primary")]
    reply = client.post(
        client.kid, {"contact": ["mailto:new@example.com", "mailto:spare@example.org"]}
    )
    assert reply.status == 200
    assert reply.json()["contact"] == ["mailto:new@example.com", "mailto:spare@example.org"]
    assert contacts_of(served, client.kid) == [
        ("new@example.com", "primary"),
        ("spare@example.org", "backup"),
    ]
    bad = client.post(client.kid, {"contact": ["tel:+15555550100"]})
    assert bad.status == 400 and bad.problem == "unsupportedContact"
    bad = client.post(client.kid, {"contact": ["mailto:not-an-address"]})
    assert bad.status == 400 and bad.problem == "invalidContact"


def test_existing_account_and_only_return_existing(served: Served) -> None:
    client = served.client()
    first = client.register()
    again = client.post(
        str(client.directory["newAccount"]), {"termsOfServiceAgreed": True}, use_jwk=True
    )
    assert again.status == 200 and again.headers["location"] == first.headers["location"]
    stranger = served.client()
    missing = stranger.post(
        str(stranger.directory["newAccount"]), {"onlyReturnExisting": True}, use_jwk=True
    )
    assert missing.status == 400 and missing.problem == "accountDoesNotExist"


def test_orders_list_and_other_accounts_resources(served: Served) -> None:
    client = served.client()
    client.register()
    assert client.kid is not None
    order = client.new_order(["list.example.com"])
    listing = client.post(client.kid + "/orders", None)
    assert listing.status == 200
    assert order.headers["location"] in listing.json()["orders"]
    other = served.client()
    other.register()
    assert other.post(order.headers["location"], None).status == 404
    assert other.post(client.kid, None).problem == "unauthorized"
    authz = order.json()["authorizations"][0]
    assert other.post(authz, None).status == 404


def test_retry_after_while_processing(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    order = client.new_order(["slow.example.com"]).json()
    authz_url = order["authorizations"][0]
    chall = next(
        c for c in client.post(authz_url, None).json()["challenges"] if c["type"] == "http-01"
    )
    web.tokens[chall["token"]] = client.key_authorization(chall["token"])
    web.delay[chall["token"]] = 1.0
    started = client.post(chall["url"], {})
    assert started.status == 200
    assert started.json()["status"] == "processing"
    assert int(started.headers["retry-after"]) >= 1
    assert 'rel="up"' in started.headers["link"]
    polled = client.post(authz_url, None)
    assert polled.json()["status"] == "pending"
    assert int(polled.headers["retry-after"]) >= 1
    assert client.poll(authz_url, ("valid", "invalid"))["status"] == "valid"
