"""ACME finalize refuses under a disabled profile, as every other issuance path does, and
tells the client no more than that: the reason is the operator's."""

from __future__ import annotations

from datetime import UTC, datetime

from .client import b64
from .conftest import ChallengeWeb, ServerFactory
from .helpers import make_csr, solve_http


def test_finalize_refuses_a_disabled_profile_and_issues_once_enabled(
    server_factory: ServerFactory, web: ChallengeWeb
) -> None:
    served = server_factory(accounts_per_ip_per_3_hours=0, certificates_per_domain_per_week=0)
    profile = served.home.config.acme.ecdsa_profile
    client = served.client()
    assert client.register(["mailto:ops@example.com"]).status == 201

    def ready_order(names: list[str]) -> dict[str, object]:
        reply = client.new_order(names)
        assert reply.status == 201, reply.body
        order: dict[str, object] = reply.json()
        for authz_url in order["authorizations"]:  # type: ignore[attr-defined]
            assert solve_http(client, web, authz_url)["status"] == "valid"
        return order

    now = datetime.now(UTC)
    order = ready_order(["stopped.example.com"])
    served.home.profiles.disable(profile, "incident 9: wrong policy OID", "alice", now)
    csr, _ = make_csr(["stopped.example.com"])
    refused = client.post(str(order["finalize"]), {"csr": b64(csr)})
    assert refused.status == 500, refused.body
    problem = refused.json()
    assert problem["type"] == "urn:ietf:params:acme:error:serverInternal"
    assert problem["detail"] == "certificates of this kind are not issued at the moment; try later"
    assert "incident 9" not in refused.body.decode() and "alice" not in refused.body.decode()

    served.home.profiles.enable(profile, "policy OID fixed", "bob", now)
    order = ready_order(["resumed.example.com"])
    csr, _ = make_csr(["resumed.example.com"])
    final = client.post(str(order["finalize"]), {"csr": b64(csr)})
    assert final.status == 200, final.body
    assert final.json()["status"] == "valid"
