"""Accounts (RFC 8555 7.3): creation, lookup, contact update, deactivation, key rollover.

An account's contacts are its subscriber's incident contacts (first mailto primary,
the rest backups), so an incident notification reaches whoever runs the ACME client.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.acme import jws
from certkeeper.acme.auth import authenticate, require_account
from certkeeper.acme.context import Acme, Request, Response, Urls
from certkeeper.acme.problems import AcmeProblem
from certkeeper.auditlog.record import ACME_SERVER, record
from certkeeper.store.acme import AccountRow

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger("certkeeper.acme")

MAX_CONTACTS = 10
SUBSCRIBER_PREFIX = "acme:"
# A deliberately plain address check: local part and a domain of LDH labels with a dot.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def account_json(account: AccountRow, urls: Urls) -> dict[str, Any]:
    return {
        "status": account.status,
        "contact": list(account.contacts),
        "termsOfServiceAgreed": account.tos_agreed,
        "orders": urls.account_orders(account.id),
        "key": json.loads(account.jwk),
        "createdAt": account.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def check_contacts(value: Any) -> list[str]:
    """mailto: URLs only (`unsupportedContact`), each one plain address (`invalidContact`)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise AcmeProblem("malformed", "contact must be a list of URLs")
    if len(value) > MAX_CONTACTS:
        raise AcmeProblem("invalidContact", f"{len(value)} contacts; at most {MAX_CONTACTS}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise AcmeProblem("malformed", "each contact must be a string URL")
        scheme, sep, rest = item.partition(":")
        if not sep or scheme.lower() != "mailto":
            raise AcmeProblem(
                "unsupportedContact", f"contact {item[:100]!r}: only mailto: URLs are supported"
            )
        if any(c in rest for c in "?,;") or not _ADDRESS.match(rest):
            raise AcmeProblem(
                "invalidContact", f"contact {item[:100]!r} is not one plain email address"
            )
        local, _, domain = rest.rpartition("@")
        normal = f"mailto:{local}@{domain.lower()}"
        if normal not in out:
            out.append(normal)
    return out


def refuse_certificate_key(acme: Acme, thumbprint: str) -> None:
    """An account key must not be a certificate key: revocation by certificate key and
    account control would then be one and the same secret."""
    if acme.store.certificate_key_in_use(thumbprint):
        raise AcmeProblem(
            "badPublicKey", "this key is the key of a certificate request; use a separate key"
        )


def refuse_blocked_or_weak_key(acme: Acme, key: object) -> None:
    """BR 6.1.1.3 applies to account keys too: a compromised key must not control an
    account (it could revoke, or order with authorizations it did not earn)."""
    from certkeeper.issuance.service import KeyRefused

    try:
        acme.ca.key_checker.check_account_key(key)
    except KeyRefused as exc:
        raise AcmeProblem("badPublicKey", str(exc)) from None


def new_account(acme: Acme, request: Request) -> Response:
    verified = authenticate(acme, request, use_jwk=True)
    urls = acme.urls(request)
    payload = verified.jws.payload_json()
    thumb = jws.thumbprint(verified.key)
    existing = acme.store.account_by_thumbprint(thumb)
    if existing is not None:
        return Response.json(
            200, account_json(existing, urls), [("Location", urls.account(existing.id))]
        )
    if payload.get("onlyReturnExisting") is True:
        raise AcmeProblem("accountDoesNotExist", "no account exists for this key")
    refuse_certificate_key(acme, thumb)
    refuse_blocked_or_weak_key(acme, verified.key)
    if payload.get("externalAccountBinding") is not None:
        raise AcmeProblem("malformed", "external account binding is not used by this server")
    agreed = payload.get("termsOfServiceAgreed", False)
    if not isinstance(agreed, bool):
        raise AcmeProblem("malformed", "termsOfServiceAgreed must be a boolean")
    if acme.settings.terms_of_service and not agreed:
        raise AcmeProblem(
            "userActionRequired",
            f"agree to the terms of service at {acme.settings.terms_of_service}",
            status=403,
            headers=(("Link", f'<{acme.settings.terms_of_service}>;rel="terms-of-service"'),),
        )
    contacts = check_contacts(payload.get("contact"))
    ip_limit = [acme.limits.new_account(request.client_ip)] if request.client_ip else []
    acme.limits.check(ip_limit)
    now = acme.clock()

    def audited(conn: Connection, account_id: int) -> None:
        detail = {"thumbprint": thumb, "contacts": contacts, "ip": request.client_ip}
        _audit(acme, "acme.account-created", urls.account(account_id), detail, now, conn)

    account = acme.store.create_account(
        thumbprint=thumb,
        jwk=jws.canonical_jwk(verified.key),
        contacts=contacts,
        tos_agreed=agreed,
        subscriber_id=SUBSCRIBER_PREFIX + thumb,
        created_ip=request.client_ip,
        now=now,
        also=audited,
    )
    if account is None:  # created by a concurrent request with the same key
        account = acme.store.account_by_thumbprint(thumb)
        if account is None:
            raise AcmeProblem("serverInternal", "the account could not be created")
        return Response.json(
            200, account_json(account, urls), [("Location", urls.account(account.id))]
        )
    acme.limits.record(ip_limit)
    log.info(
        "account created",
        extra={"account": account.id, "thumbprint": thumb, "ip": request.client_ip},
    )
    return Response.json(201, account_json(account, urls), [("Location", urls.account(account.id))])


def account_resource(acme: Acme, request: Request, account_id: int) -> Response:
    """POST to the account URL: fetch (empty payload or {}), update contacts, deactivate."""
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    urls = acme.urls(request)
    if account.id != account_id:
        raise AcmeProblem("unauthorized", "the request is signed by another account's key")
    payload = verified.jws.payload_json()
    contacts = check_contacts(payload["contact"]) if "contact" in payload else None
    status = payload.get("status")
    if status is not None and status != "deactivated":
        raise AcmeProblem("malformed", f"account status can only become deactivated, not {status}")
    if contacts is not None or status is not None:
        event = "acme.account-deactivated" if status else "acme.contacts-updated"
        detail: dict[str, Any] = {}
        if contacts is not None:
            detail = {"contacts": contacts, "previous_contacts": list(account.contacts)}
        uri, now = urls.account(account.id), acme.clock()
        acme.store.update_account(
            account.id,
            contacts=contacts,
            status=status,
            also=lambda conn: _audit(acme, event, uri, detail, now, conn),
        )
        log.info("account updated", extra={"account": account.id, "status": status})
        refreshed = acme.store.account(account.id)
        assert refreshed is not None
        account = refreshed
    return Response.json(200, account_json(account, urls), [("Location", urls.account(account.id))])


def account_orders(acme: Acme, request: Request, account_id: int) -> Response:
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    if account.id != account_id:
        raise AcmeProblem("unauthorized", "the orders list belongs to another account")
    urls = acme.urls(request)
    ids = acme.store.order_ids(account.id)
    return Response.json(200, {"orders": [urls.order(i) for i in ids]})


def key_change(acme: Acme, request: Request) -> Response:
    """RFC 8555 7.3.5: an inner JWS signed by the new key, carried by an outer JWS signed
    by the current one. The inner JWS has a jwk (the new key), no nonce, the same url,
    and a payload naming the account and its old key."""
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    urls = acme.urls(request)
    inner = jws.parse(verified.jws.payload, inner=True)
    if inner.jwk is None:
        raise AcmeProblem("malformed", "the inner JWS must carry the new key as jwk")
    if inner.nonce is not None or "nonce" in inner.protected:
        raise AcmeProblem("malformed", "the inner JWS must not have a nonce")
    if inner.url != verified.jws.url:
        raise AcmeProblem("malformed", "the inner JWS url differs from the outer one")
    new_key = jws.key_from_jwk(inner.jwk)
    jws.verify(inner, new_key)
    body = inner.payload_json()
    if body.get("account") != urls.account(account.id):
        raise AcmeProblem("malformed", "the inner payload's account is not the signing account")
    old = body.get("oldKey")
    if not isinstance(old, dict):
        raise AcmeProblem("malformed", "the inner payload has no oldKey")
    if jws.thumbprint(jws.key_from_jwk(old)) != account.thumbprint:
        raise AcmeProblem("malformed", "oldKey is not the account's current key")
    new_thumb = jws.thumbprint(new_key)
    if new_thumb == account.thumbprint:
        raise AcmeProblem("malformed", "the new key is the current key")
    refuse_certificate_key(acme, new_thumb)
    holder = acme.store.account_by_thumbprint(new_thumb)
    uri, now = urls.account(account.id), acme.clock()
    detail = {"old_thumbprint": account.thumbprint, "new_thumbprint": new_thumb}
    if holder is not None or not acme.store.change_key(
        account.id,
        new_thumb,
        jws.canonical_jwk(new_key),
        also=lambda conn: _audit(acme, "acme.account-key-changed", uri, detail, now, conn),
    ):
        holder = holder or acme.store.account_by_thumbprint(new_thumb)
        raise AcmeProblem(
            "malformed",
            "the new key already belongs to an account",
            status=409,
            headers=(("Location", urls.account(holder.id)),) if holder else (),
        )
    refreshed = acme.store.account(account.id)
    assert refreshed is not None
    log.info(
        "account key changed",
        extra={"account": account.id, "old": account.thumbprint, "new": new_thumb},
    )
    return Response.json(
        200, account_json(refreshed, urls), [("Location", urls.account(account.id))]
    )


def _audit(
    acme: Acme, event: str, uri: str, detail: dict[str, Any], at: datetime, conn: Connection
) -> None:
    """An account change in the audit log, in the transaction that makes it: the
    account's URI is the subject, the ACME server the actor."""
    record(acme.ca, event, uri, actor=ACME_SERVER, detail=detail, at=at, conn=conn)
