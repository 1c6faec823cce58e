"""BR 6.1.1.3 over ACME: weak and blocked keys get badPublicKey at finalize and at
newAccount; a revocation signed with the certificate key blocks that key."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.keys.spki import spki_sha256
from certkeeper.store.blocked_keys import BlockedKey, BlockedKeyStore
from keys.primes import fermat_pair, private_key

from .client import AcmeClient, b64
from .conftest import ChallengeWeb, Served
from .helpers import make_csr, obtain, solve_http


def ready_order(client: AcmeClient, web: ChallengeWeb, name: str) -> dict[str, object]:
    order = client.new_order([name]).json()
    for url in order["authorizations"]:
        assert solve_http(client, web, url)["status"] == "valid"
    return dict(order)


def test_a_fermat_weak_key_is_refused_at_finalize(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    order = ready_order(client, web, "fermat.example.com")
    p, q = fermat_pair(1024, 2**300, random.Random(11))
    csr, _ = make_csr(["fermat.example.com"], key=private_key(p, q))
    refused = client.post(str(order["finalize"]), {"csr": b64(csr)})
    assert refused.status == 400 and refused.problem == "badPublicKey"
    assert "rsa_fermat_factorable" in refused.json()["detail"]


def test_revocation_signed_with_the_certificate_key_blocks_it(
    served: Served, web: ChallengeWeb
) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["blocked-by-revoke.example.com"])
    holder = AcmeClient(served.directory, got.key)
    der = got.certificate.public_bytes(Encoding.DER)
    reply = holder.post(
        str(holder.directory["revokeCert"]), {"certificate": b64(der), "reason": 4}, use_jwk=True
    )
    assert reply.status == 200, reply.body
    blocked = BlockedKeyStore(served.home.inventory.engine).get(spki_sha256(got.key.public_key()))
    assert blocked is not None and blocked.source == "acme-revocation"
    assert blocked.serial == got.serial

    order = ready_order(client, web, "blocked-by-revoke.example.com")
    csr, _ = make_csr(["blocked-by-revoke.example.com"], key=got.key)
    refused = client.post(str(order["finalize"]), {"csr": b64(csr)})
    assert refused.status == 400 and refused.problem == "badPublicKey"
    assert "blocked_key" in refused.json()["detail"]


def test_a_blocked_key_cannot_open_an_account(served: Served) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    BlockedKeyStore(served.home.inventory.engine).add(
        [
            BlockedKey(
                spki_sha256(key.public_key()), "operator", "test list", None, datetime.now(UTC)
            )
        ]
    )
    holder = AcmeClient(served.directory, key)
    reply = holder.post(
        str(holder.directory["newAccount"]), {"termsOfServiceAgreed": True}, use_jwk=True
    )
    assert reply.status == 400 and reply.problem == "badPublicKey"
    assert "blocked_key" in reply.json()["detail"]
    assert served.client().register().status == 201  # other keys still can
