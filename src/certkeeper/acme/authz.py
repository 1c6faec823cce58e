"""Authorizations and challenges (RFC 8555 7.5, 7.1.6 status transitions).

A challenge POST moves the challenge pending -> processing (a conditional UPDATE: one
process wins) and hands the check to a worker thread that runs the validation authority
(primary check, remote corroboration, record). The result moves the challenge to valid
or invalid and its authorization with it; the order follows its authorizations when
next read. Clients poll with the Retry-After the response carries.
"""

from __future__ import annotations

import logging
from concurrent.futures import wait
from datetime import timedelta
from typing import Any

from certkeeper.acme.auth import authenticate, require_account
from certkeeper.acme.context import Acme, Request, Response, Urls
from certkeeper.acme.orders import authz_status, rfc3339
from certkeeper.acme.problems import AcmeProblem, StoredError, identifier_json
from certkeeper.store.acme import AccountRow, AuthorizationRow, ChallengeRow
from certkeeper.validation.model import ChallengeAttempt

log = logging.getLogger("certkeeper.acme")

# Longer than any validation can take (challenge and CAA timeouts, remote perspectives):
# a challenge processing longer than this lost its worker.
STALE_VALIDATION = timedelta(minutes=5)


def challenge_json(urls: Urls, chall: ChallengeRow) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": chall.type,
        "url": urls.challenge(chall.id),
        "status": chall.status,
        "token": chall.token,
    }
    if chall.validated is not None:
        doc["validated"] = rfc3339(chall.validated)
    if chall.error is not None:
        doc["error"] = chall.error
    return doc


def authz_json(acme: Acme, urls: Urls, authz: AuthorizationRow) -> dict[str, Any]:
    status = authz_status(authz, acme.clock())
    challenges = authz.challenges
    if status == "valid":  # RFC 8555 7.1.4: the challenge that succeeded, if any
        challenges = tuple(c for c in challenges if c.status == "valid") or challenges
    doc: dict[str, Any] = {
        "identifier": identifier_json(authz.identifier),
        "status": status,
        "expires": rfc3339(authz.expires),
        "challenges": [challenge_json(urls, c) for c in challenges],
    }
    if authz.wildcard:
        doc["wildcard"] = True
    return doc


def _owned_authz(acme: Acme, account: AccountRow, authz_id: int) -> AuthorizationRow:
    authz = acme.store.authorization(authz_id)
    if authz is None or authz.account_id != account.id:
        raise AcmeProblem("malformed", f"no authorization {authz_id} for this account", status=404)
    if fail_stale(acme, [authz]):
        authz = acme.store.authorization(authz_id)
        assert authz is not None
    return authz


def fail_stale(acme: Acme, authzs: list[AuthorizationRow]) -> int:
    """A validation whose process died leaves its challenge processing; after
    STALE_VALIDATION it is failed so the client can start again with a new order."""
    processing = [a.id for a in authzs if any(c.status == "processing" for c in a.challenges)]
    if not processing:
        return 0
    error = StoredError(
        "serverInternal", "the validation was interrupted; start a new order", 500
    ).to_json()
    return acme.store.fail_stale_challenges(processing, acme.clock() - STALE_VALIDATION, error)


def authorization(acme: Acme, request: Request, authz_id: int) -> Response:
    """POST-as-GET, or {"status": "deactivated"} (RFC 8555 7.5.2)."""
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    urls = acme.urls(request)
    authz = _owned_authz(acme, account, authz_id)
    payload = verified.jws.payload_json()
    if payload:
        if payload != {"status": "deactivated"}:
            raise AcmeProblem(
                "malformed", 'an authorization update must be {"status": "deactivated"}'
            )
        if not acme.store.deactivate_authorization(authz.id):
            raise AcmeProblem(
                "malformed", f"authorization {authz.id} is {authz.status}; it cannot be deactivated"
            )
        authz = _owned_authz(acme, account, authz_id)
    headers = [("Location", urls.authz(authz.id))]
    if any(c.status == "processing" for c in authz.challenges):
        headers.append(("Retry-After", str(acme.settings.processing_retry_after)))
    return Response.json(200, authz_json(acme, urls, authz), headers)


def challenge(acme: Acme, request: Request, challenge_id: int) -> Response:
    """POST-as-GET returns the challenge; `{}` asks the server to validate it."""
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    urls = acme.urls(request)
    chall = acme.store.challenge(challenge_id)
    if chall is None:
        raise AcmeProblem("malformed", f"no challenge {challenge_id}", status=404)
    authz = _owned_authz(acme, account, chall.authorization_id)
    link = [("Link", f'<{urls.authz(authz.id)}>;rel="up"')]
    if not verified.jws.post_as_get:
        if verified.jws.payload_json() != {}:
            raise AcmeProblem("malformed", "a challenge response payload must be {}")
        if chall.status == "pending":
            _start(acme, urls, account, authz, chall)
            refreshed = acme.store.challenge(challenge_id)
            assert refreshed is not None
            chall = refreshed
        elif authz_status(authz, acme.clock()) != "pending" and chall.status != "processing":
            raise AcmeProblem(
                "malformed", f"challenge {chall.id} is {chall.status}; it cannot be retried"
            )
    if chall.status == "processing":
        link.append(("Retry-After", str(acme.settings.processing_retry_after)))
    return Response.json(200, challenge_json(urls, chall), link)


def _start(
    acme: Acme, urls: Urls, account: AccountRow, authz: AuthorizationRow, chall: ChallengeRow
) -> None:
    state = authz_status(authz, acme.clock())
    if state != "pending":
        raise AcmeProblem("malformed", f"authorization {authz.id} is {state}, not pending")
    limit = acme.limits.failed_validations(account.id, authz.identifier)
    acme.limits.check([limit])
    if not acme.store.start_challenge(chall.id, authz.id, acme.clock()):
        return  # another request started this or a sibling challenge: just report state
    key_authorization = f"{chall.token}.{account.thumbprint}"
    attempt = ChallengeAttempt(
        identifier=authz.identifier,
        challenge_type=chall.type,
        token=chall.token,
        key_authorization=key_authorization,
        account_uri=urls.account(account.id),
        wildcard=authz.wildcard,
    )
    running = acme.validations.submit(_validate, acme, account.id, authz.id, chall.id, attempt)
    # A validation that ends quickly is answered in this response ("valid" or "invalid"),
    # sparing the client a Retry-After sleep and a poll; a slower one stays "processing".
    wait([running], timeout=acme.settings.challenge_answer_wait_seconds)


def _validate(
    acme: Acme, account_id: int, authz_id: int, challenge_id: int, attempt: ChallengeAttempt
) -> None:
    """Worker thread: run the validation authority and record its answer."""
    try:
        outcome = acme.validator.validate(attempt)
        valid, record_id = outcome.valid, outcome.record_id
        ca_failure = outcome.problem_type == "serverInternal"
        error = None
        if not valid:
            error = StoredError(
                outcome.problem_type or "unauthorized", outcome.detail, 403
            ).to_json()
    except Exception:
        log.exception("validation of challenge %s failed", challenge_id)
        valid, record_id, ca_failure = False, None, True
        error = StoredError(
            "serverInternal", "the validation could not be performed", 500
        ).to_json()
    now = acme.clock()
    try:
        acme.store.finish_challenge(
            challenge_id,
            authz_id,
            valid=valid,
            now=now,
            error=error,
            record_id=record_id,
            authz_expires=now + timedelta(hours=acme.settings.authorization_lifetime_hours),
        )
        log.info(
            "challenge validated" if valid else "challenge failed",
            extra={
                "account": account_id,
                "fqdn": attempt.identifier,
                "type": attempt.challenge_type,
                "record": record_id,
            },
        )
        if not valid and not ca_failure:
            # the CA's own failure (perspectives unreachable) is not the client's attempt
            acme.limits.record([acme.limits.failed_validations(account_id, attempt.identifier)])
    except Exception:
        log.exception("recording the validation of challenge %s failed", challenge_id)
