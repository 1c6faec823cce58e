"""ACME account changes and challenge validations in the audit log: the account's URI
(or the validated name) as subject, the server as actor, each written in the
transaction that makes the change; the chain still verifies."""

from __future__ import annotations

import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.audit_chain import AuditFilter
from certkeeper.auditlog.record import ACME_SERVER, audit_log

from .client import b64, jwk, jws, sign
from .conftest import ChallengeWeb, Served
from .helpers import solve_http


def audited(served: Served, prefix: str, subject: str) -> list[dict[str, Any]]:
    log = audit_log(served.home)
    return [e.to_dict() for e in log.entries(AuditFilter(event=prefix)) if e.subject == subject]


def test_account_created_updated_rekeyed_and_deactivated(served: Served) -> None:
    client = served.client()
    client.register(["mailto:first@example.com"])
    assert client.kid is not None
    assert client.post(client.kid, {"contact": ["mailto:second@example.com"]}).status == 200
    new_key = ec.generate_private_key(ec.SECP256R1())
    url = str(client.directory["keyChange"])
    inner = jws(new_key, {"jwk": jwk(new_key), "url": url}, b"")
    inner["payload"] = b64(json.dumps({"account": client.kid, "oldKey": jwk(client.key)}).encode())
    inner["signature"] = b64(
        sign(new_key, "ES256", f"{inner['protected']}.{inner['payload']}".encode())
    )
    assert client.post(url, inner).status == 200
    client.key = new_key
    assert client.post(client.kid, {"status": "deactivated"}).status == 200

    rows = audited(served, "acme.", client.kid)
    assert [r["event"] for r in rows] == [
        "acme.account-created",
        "acme.contacts-updated",
        "acme.account-key-changed",
        "acme.account-deactivated",
    ]
    assert {r["actor"] for r in rows} == {ACME_SERVER}
    assert rows[0]["detail"]["contacts"] == ["mailto:first@example.com"]
    assert rows[1]["detail"] == {
        "contacts": ["mailto:second@example.com"],
        "previous_contacts": ["mailto:first@example.com"],
    }
    assert rows[2]["detail"]["new_thumbprint"] != rows[2]["detail"]["old_thumbprint"]
    assert audit_log(served.home).verify().ok


def test_a_refused_key_change_records_nothing(served: Served) -> None:
    client = served.client()
    client.register()
    assert client.kid is not None
    url = str(client.directory["keyChange"])
    payload = json.dumps({"account": client.kid, "oldKey": jwk(client.key)}).encode()
    new_key = ec.generate_private_key(ec.SECP256R1())
    inner = jws(new_key, {"jwk": jwk(new_key), "url": url, "nonce": client.nonce()}, payload)
    assert client.post(url, inner).status == 400
    assert [r["event"] for r in audited(served, "acme.", client.kid)] == ["acme.account-created"]


def test_a_challenge_validation_is_recorded_with_method_and_result(
    served: Served, web: ChallengeWeb
) -> None:
    client = served.client()
    client.register()
    fqdn = f"audit{uuid.uuid4().hex[:10]}.example.com"
    order = client.new_order([fqdn]).json()
    authz = solve_http(client, web, order["authorizations"][0])
    assert authz["status"] == "valid"
    rows = audited(served, "validation.", fqdn)
    assert [(r["event"], r["actor"]) for r in rows] == [("validation.succeeded", ACME_SERVER)]
    detail = rows[0]["detail"]
    assert detail["account"] == client.kid and detail["challenge"] == "http-01"
    assert detail["method"] == "BR 3.2.2.4.19" and detail["result"] == "valid"
    assert isinstance(detail["record"], int)
