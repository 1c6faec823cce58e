"""Routing a request to its endpoint, and the two unauthenticated resources (directory,
newNonce). Every answer gets `Cache-Control: no-store` and a Link to the directory; a
fresh Replay-Nonce goes with every answer to newNonce and to any method but GET (RFC 8555
6.5, 7.2: POST answers, refusals included), never with a GET of another resource: a
nonce on the directory confuses clients that expect one only where RFC 8555 puts it."""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable
from typing import Any

from certkeeper.acme import accounts, authz, orders, renewal, revoke
from certkeeper.acme.context import Acme, Request, Response, Urls
from certkeeper.acme.jws import ALGORITHMS
from certkeeper.acme.problems import PROBLEM_TYPE, AcmeProblem
from certkeeper.errors import NotFound
from certkeeper.store.database import UNAVAILABLE_ERRORS

log = logging.getLogger("certkeeper.acme")

Handler = Callable[[Acme, Request], Response]
NO_DATABASE = frozenset({"/directory", "/new-nonce"})  # answered during an outage too
IdHandler = Callable[[Acme, Request, int], Response]

_FIXED: dict[str, Handler] = {
    "/new-account": accounts.new_account,
    "/new-order": orders.new_order,
    "/revoke-cert": revoke.revoke_cert,
    "/key-change": accounts.key_change,
}
# Ids as the server writes them: ASCII digits, no leading zero. `\d` would also match
# other scripts' digits ("/acct/١" is account 1 to int()), and "/acct/02" would alias
# account 2: such a URL is no resource of ours.
ID = "[1-9][0-9]{0,17}"
_BY_ID: tuple[tuple[re.Pattern[str], IdHandler], ...] = (
    (re.compile(rf"^/acct/({ID})$"), accounts.account_resource),
    (re.compile(rf"^/acct/({ID})/orders$"), accounts.account_orders),
    (re.compile(rf"^/order/({ID})$"), orders.get_order),
    (re.compile(rf"^/order/({ID})/finalize$"), orders.finalize),
    (re.compile(rf"^/authz/({ID})$"), authz.authorization),
    (re.compile(rf"^/chall/({ID})$"), authz.challenge),
)


def directory_json(acme: Acme, urls: Urls) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "externalAccountRequired": False,
        "caaIdentities": list(acme.ca.config.validation.caa_identities),
    }
    if acme.settings.terms_of_service:
        meta["termsOfService"] = acme.settings.terms_of_service
    if acme.settings.website:
        meta["website"] = acme.settings.website
    profiles = offered_profiles(acme)
    if profiles:
        meta["profiles"] = profiles
    return {
        "newNonce": urls.new_nonce(),
        "newAccount": urls.new_account(),
        "newOrder": urls.new_order(),
        "revokeCert": urls.revoke_cert(),
        "keyChange": urls.key_change(),
        "renewalInfo": urls.renewal_info(),
        "meta": meta,
    }


# The directory is answered during a database outage too: the profiles it lists are read
# at most once a minute per process and the last list is kept when the database is down.
PROFILES_TTL_SECONDS = 60.0
_profiles_seen: weakref.WeakKeyDictionary[Acme, tuple[float, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def offered_profiles(acme: Acme) -> dict[str, str]:
    """draft-ietf-acme-profiles 3: name -> description of every ACME profile whose
    certkeeper profiles are installed (the ECDSA one's description, with both ids)."""
    now = time.monotonic()
    seen = _profiles_seen.get(acme)
    if seen is not None and now - seen[0] < PROFILES_TTL_SECONDS:
        return seen[1]
    registry = acme.ca.profiles
    out: dict[str, str] = {}
    try:
        for profile in acme.settings.profiles:
            try:
                ecdsa = registry.get(profile.ecdsa)
                registry.get(profile.rsa)
            except NotFound:
                continue
            out[profile.name] = f"{ecdsa.description} (profiles {profile.ecdsa}, {profile.rsa})"
    except UNAVAILABLE_ERRORS:
        return {} if seen is None else seen[1]
    _profiles_seen[acme] = (now, out)
    return out


def dispatch(acme: Acme, request: Request) -> Response:
    path, method = request.path, request.method
    if path == "/directory":
        _only(method, ("GET", "HEAD"))
        return Response.json(200, directory_json(acme, acme.urls(request)))
    if path == "/new-nonce":
        _only(method, ("GET", "HEAD"))
        # RFC 8555 7.2: 200 for HEAD, 204 for GET.
        return Response(200 if method == "HEAD" else 204, b"", None)
    if path.startswith("/renewal-info/"):
        return renewal.renewal_info(acme, request, path[len("/renewal-info/") :])
    if path.startswith("/cert/"):
        _only(method, ("GET", "POST"))
        return orders.certificate(acme, request, path[len("/cert/") :])
    handler = _FIXED.get(path)
    if handler is not None:
        _only(method, ("POST",))
        return handler(acme, request)
    for pattern, id_handler in _BY_ID:
        match = pattern.fullmatch(path)
        if match:
            _only(method, ("POST",))
            return id_handler(acme, request, int(match.group(1)))
    raise AcmeProblem("malformed", f"no ACME resource at {request.url()[:200]}", status=404)


def _only(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise AcmeProblem(
            "malformed",
            f"{method} is not allowed here; use {' or '.join(allowed)}"
            + (" (POST-as-GET for ACME resources)" if allowed == ("POST",) else ""),
            status=405,
            headers=(("Allow", ", ".join(allowed)),),
        )


def handle(acme: Acme, request: Request) -> Response:
    """Dispatch, turning every refusal and every unexpected failure into a problem
    document, and add the headers every ACME response carries."""
    try:
        if request.path not in NO_DATABASE:
            acme.outage.check()
        response = dispatch(acme, request)
    except AcmeProblem as problem:
        response = problem_response(problem)
    except UNAVAILABLE_ERRORS as exc:
        response = problem_response(acme.outage.failed(exc))
    except Exception:
        log.exception("ACME %s %s failed", request.method, request.path)
        response = problem_response(
            AcmeProblem("serverInternal", "the server failed to handle the request")
        )
    urls = acme.urls(request)
    if carries_nonce(request.method, request.path):
        response.headers.append(("Replay-Nonce", acme.nonces.issue()))
    response.headers.append(("Cache-Control", "no-store"))
    response.headers.append(("Link", f'<{urls.directory()}>;rel="index"'))
    return response


def carries_nonce(method: str, path: str) -> bool:
    """newNonce always; otherwise every method but GET (as Pebble does)."""
    return path == "/new-nonce" or method != "GET"


def problem_response(problem: AcmeProblem) -> Response:
    headers = list(problem.headers)
    if problem.type == "badSignatureAlgorithm":
        problem.extra.setdefault("algorithms", list(ALGORITHMS))
    return Response(problem.status, problem.body(), PROBLEM_TYPE, headers)
