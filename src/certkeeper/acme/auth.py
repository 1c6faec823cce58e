"""Authenticating a POST (RFC 8555 6.2-6.5): the order of checks and why.

1. Content-Type `application/jose+json` (415 `malformed` otherwise) and the body size
   (413 `malformed` over `max_request_bytes`, checked before reading it all);
2. the JWS shape and header (`jws.parse`: flattened only, `alg`, exactly one of jwk/kid);
3. `url` equals the URL the request was sent to (`unauthorized`): a signed request for
   one resource cannot be replayed against another;
4. `nonce` is authentic and in date (`badNonce`), checked before any database read so a
   flood of forged requests costs no query;
5. the key: the embedded `jwk` where the endpoint takes one (newAccount, revokeCert),
   else the account named by `kid` (`accountDoesNotExist`); an endpoint that needs the
   other kind refuses with `malformed`;
6. the signature (`malformed` when it does not verify);
7. only then the nonce is used up (one INSERT; a replay is `badNonce`), so forged
   requests cannot burn a client's nonces;
8. the account's status: a deactivated or revoked account is `unauthorized`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from certkeeper.acme import jws
from certkeeper.acme.context import JOSE_TYPE, Acme, Request
from certkeeper.acme.jws import Jws, PublicKey
from certkeeper.acme.problems import AcmeProblem
from certkeeper.store.acme import AccountRow


@dataclass(frozen=True)
class Verified:
    jws: Jws
    key: PublicKey
    account: AccountRow | None  # None for a jwk-signed request without an account


def check_content_type(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JOSE_TYPE:
        raise AcmeProblem(
            "malformed",
            f"Content-Type must be {JOSE_TYPE}, not {ctype or 'absent'}",
            status=415,
        )


def authenticate(acme: Acme, request: Request, *, use_jwk: bool | None) -> Verified:
    """`use_jwk`: True for jwk-only endpoints, False for kid-only, None when either works
    (revokeCert)."""
    check_content_type(request)
    parsed = jws.parse(request.body)
    if parsed.url != request.url():
        raise AcmeProblem(
            "unauthorized",
            f"the JWS url {parsed.url[:200]!r} is not the request URL {request.url()!r}",
        )
    expires = acme.nonces.check(parsed.nonce)
    account: AccountRow | None = None
    if parsed.jwk is not None:
        if use_jwk is False:
            raise AcmeProblem("malformed", "this resource needs a kid (account URL), not a jwk")
        key = jws.key_from_jwk(parsed.jwk)
    else:
        if use_jwk is True:
            raise AcmeProblem("malformed", "this resource needs a jwk, not a kid")
        assert parsed.kid is not None
        account_id = acme.urls(request).account_id(parsed.kid)
        account = acme.store.account(account_id) if account_id is not None else None
        if account is None:
            raise AcmeProblem("accountDoesNotExist", f"no account at {parsed.kid[:200]!r}")
        key = account_key(account.jwk)
    jws.verify(parsed, key)
    assert parsed.nonce is not None
    acme.nonces.consume(parsed.nonce, expires)
    if account is not None and account.status != "valid":
        raise AcmeProblem("unauthorized", f"account {account.id} is {account.status}")
    return Verified(parsed, key, account)


@lru_cache(maxsize=4096)
def account_key(canonical_jwk: str) -> PublicKey:
    """The key of a stored account JWK. Cached by the JWK text itself, so a key change
    (a new text) can never be served the old key."""
    return jws.key_from_jwk(json.loads(canonical_jwk))


def require_account(verified: Verified) -> AccountRow:
    if verified.account is None:
        raise AcmeProblem("malformed", "this resource needs a kid (account URL)")
    return verified.account
