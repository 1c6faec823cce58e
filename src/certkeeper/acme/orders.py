"""Orders (RFC 8555 7.4): new orders, their status, finalization, certificate download.

Order of checks for a new order: identifiers (dns only, syntax, count, duplicates) ->
`replaces` (RFC 9773 5: a certificate of this account, not already replaced) -> rate
limits (skipped for a replacement of a certificate in an open incident) -> preflight of
every name by the validation authority (TLD/PSL; `rejectedIdentifier`, all refused names
reported as subproblems) -> authorizations: reuse this account's valid or pending one,
or a still reusable validation record, or a new pending one with the challenges whose
BR method is in force.

Finalization issues through `IssuanceService` with the validation authority's name
authorizer, so the names are checked against validation records and CAA again at the
moment of issuance and the certificate passes the same two-linter gate as any other.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.acme import jws
from certkeeper.acme.ari import parse_cert_id
from certkeeper.acme.auth import Verified, authenticate, require_account
from certkeeper.acme.context import PEM_CHAIN_TYPE, Acme, Request, Response, Urls
from certkeeper.acme.problems import AcmeProblem, StoredError, Subproblem, identifier_json
from certkeeper.errors import (
    CertkeeperError,
    InputError,
    IssuanceRefused,
    NameNotAuthorized,
    NotFound,
)
from certkeeper.store.acme import AccountRow, AuthorizationRow, NewAuthorization, OrderRow
from certkeeper.validation.ip_identifiers import canonical, is_ip, parse_ip

log = logging.getLogger("certkeeper.acme")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AcmeProblem("malformed", f"{what} must be an RFC 3339 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AcmeProblem("malformed", f"{what} {value[:40]!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise AcmeProblem("malformed", f"{what} has no time zone")
    return moment


def check_identifiers(value: Any, limit: int) -> list[str]:
    """The order's names in request order: dns names lower-case, ip addresses (RFC 8738)
    in canonical text, no duplicates. Whether the profile takes IP addresses is asked
    later (`_ip_allowed`)."""
    if not isinstance(value, list) or not value:
        raise AcmeProblem("malformed", "identifiers must be a non-empty list")
    if len(value) > limit:
        raise AcmeProblem("rejectedIdentifier", f"{len(value)} identifiers; at most {limit}")
    names: list[str] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"type", "value"}:
            raise AcmeProblem("malformed", "each identifier is an object with type and value")
        kind, name = item["type"], item["value"]
        if kind not in ("dns", "ip"):
            raise AcmeProblem(
                "unsupportedIdentifier",
                f"identifier type {str(kind)[:20]!r}: only dns and ip are issued",
            )
        if not isinstance(name, str) or not name:
            raise AcmeProblem("malformed", "identifier value must be a non-empty string")
        if kind == "ip":
            address = _ip_value(name)
            if address not in names:
                names.append(address)
            continue
        if is_ip(name):
            raise AcmeProblem(
                "malformed", f"{name[:64]!r} is an IP address: its identifier type is ip"
            )
        norm = name.lower()
        if norm.endswith("."):
            raise AcmeProblem("rejectedIdentifier", f"{name[:255]!r}: drop the trailing dot")
        bare = norm[2:] if norm.startswith("*.") else norm
        labels = bare.split(".")
        if (
            len(bare) > 253
            or len(labels) < 2
            or not norm.isascii()
            or not all(_LABEL.match(label) for label in labels)
        ):
            raise AcmeProblem(
                "rejectedIdentifier",
                f"{name[:255]!r} is not a DNS name in A-label form",
                subproblems=(Subproblem("rejectedIdentifier", "not a DNS name", name[:255]),),
            )
        if norm not in names:
            names.append(norm)
    return names


def _ip_value(value: str) -> str:
    """RFC 8738 3: an IPv4 address in dotted decimal, an IPv6 one in RFC 5952 text."""
    ip = parse_ip(value)
    if ip is None or value != value.strip():
        raise AcmeProblem(
            "rejectedIdentifier",
            f"{value[:64]!r} is not an IP address",
            subproblems=(Subproblem("rejectedIdentifier", "not an IP address", value[:64]),),
        )
    return canonical(ip)


def _ip_allowed(acme: Acme, names: list[str], profile: str | None) -> None:
    """IP identifiers only under an ACME profile whose certkeeper profiles (both key
    types) allow iPAddress entries; the built-in DV profiles do not."""
    ips = [n for n in names if is_ip(n)]
    if not ips:
        return
    chosen = acme.settings.profile(profile) if profile else None
    ids = (
        (chosen.ecdsa, chosen.rsa)
        if chosen is not None
        else (acme.settings.ecdsa_profile, acme.settings.rsa_profile)
    )
    try:
        allowed = all(acme.ca.profiles.get(i).san.allow_ip_addresses for i in ids)
    except NotFound:
        allowed = False
    if not allowed:
        raise AcmeProblem(
            "rejectedIdentifier",
            f"IP address identifiers ({', '.join(ips)}) are not issued under the "
            f"{profile or 'default'} profile; ask for a profile that allows them",
            subproblems=tuple(
                Subproblem("rejectedIdentifier", "no IP addresses in this profile", ip)
                for ip in ips
            ),
        )


# -- new order -------------------------------------------------------------------------


def new_order(acme: Acme, request: Request) -> Response:
    verified = authenticate(acme, request, use_jwk=False)
    account = require_account(verified)
    urls = acme.urls(request)
    payload = verified.jws.payload_json()
    now = acme.clock()
    names = check_identifiers(payload.get("identifiers"), acme.settings.max_identifiers)
    not_before = parse_time(payload.get("notBefore"), "notBefore")
    not_after = parse_time(payload.get("notAfter"), "notAfter")
    if not_before is not None or not_after is not None:
        raise AcmeProblem(
            "malformed", "notBefore and notAfter are set by the certificate profile; leave them out"
        )
    replaces, replaces_serial, exempt = _replaces(acme, account, payload.get("replaces"), names)
    profile = _profile(acme, payload.get("profile"))
    _ip_allowed(acme, names, profile)
    order_limit = acme.limits.new_order(account.id)
    if not exempt:
        acme.limits.check([order_limit, *acme.limits.certificates(names)])
    account_uri = urls.account(account.id)
    _preflight(acme, names)
    lifetime = timedelta(hours=acme.settings.authorization_lifetime_hours)
    reuse: list[int] = []
    new: list[NewAuthorization] = []
    for name in names:
        wildcard = name.startswith("*.")
        bare = name[2:] if wildcard else name
        found = acme.store.reusable_authorization(
            account.id, bare, wildcard, now + timedelta(hours=1)
        )
        if found is not None:
            reuse.append(found)
            continue
        record = acme.validator.reusable(bare, account_uri, wildcard=wildcard)
        if record is not None:
            new.append(_from_validation(acme, bare, wildcard, now + lifetime, record))
            continue
        offered = tuple(acme.validator.offered_challenges(bare, wildcard=wildcard))
        if not offered:
            raise AcmeProblem(
                "rejectedIdentifier", f"{name}: no validation method is in force for this name"
            )
        new.append(NewAuthorization(bare, wildcard, "pending", now + lifetime, None, offered))
    order_id = acme.store.create_order(
        account_id=account.id,
        identifiers=names,
        not_before=None,
        not_after=None,
        expires=now + timedelta(hours=acme.settings.order_lifetime_hours),
        replaces=replaces,
        replaces_serial=replaces_serial,
        rate_exempt=exempt,
        reuse=reuse,
        new=new,
        now=now,
        profile=profile,
    )
    if not exempt:
        acme.limits.record([order_limit])
    order = acme.store.order(order_id)
    assert order is not None
    return _order_response(acme, urls, order, 201)


def _profile(acme: Acme, value: Any) -> str | None:
    """draft-ietf-acme-profiles 4: a profile the directory offers, else invalidProfile."""
    if value is None:
        return None
    from certkeeper.acme.service import offered_profiles

    offered = offered_profiles(acme)
    if not isinstance(value, str) or value not in offered:
        raise AcmeProblem(
            "invalidProfile",
            f"profile {str(value)[:40]!r} is not offered; the directory lists "
            f"{', '.join(offered) or 'none'}",
        )
    return value


def _from_validation(
    acme: Acme, name: str, wildcard: bool, expires: datetime, record_id: int
) -> NewAuthorization:
    """A valid authorization rebuilt from a stored validation lists the challenge that
    validated it (RFC 8555 7.1.4), with the time it did."""
    stored = acme.ca.stores.validations.get(record_id)
    if stored is None:
        return NewAuthorization(name, wildcard, "valid", expires, record_id, ())
    return NewAuthorization(
        name, wildcard, "valid", expires, record_id, (stored.challenge_type,), stored.validated_at
    )


def _replaces(
    acme: Acme, account: AccountRow, value: Any, names: list[str]
) -> tuple[str | None, str | None, bool]:
    """RFC 9773 5: `replaces` names a certificate of this account, not already replaced,
    sharing at least one identifier with the new order (else it replaces nothing of it).
    Returns (certID, serial, exempt from rate limits)."""
    if value is None:
        return None, None, False
    if not isinstance(value, str):
        raise AcmeProblem("malformed", "replaces must be a certID string")
    cert_id = parse_cert_id(value)
    serial = cert_id.serial_hex
    try:
        record = acme.ca.stores.inventory.certificate(serial=serial)
    except NotFound:
        raise AcmeProblem("malformed", f"replaces: no certificate with certID {value}") from None
    issuer = acme.ca.stores.inventory.issuer(record.issuer_id)
    if bytes.fromhex(issuer.ski) != cert_id.key_identifier:
        raise AcmeProblem("malformed", f"replaces: certID {value} names another issuer")
    if record.subscriber_id != account.subscriber_id:
        raise AcmeProblem(
            "unauthorized", f"replaces: certificate {serial} was not issued to this account"
        )
    if not {n.lower() for n in record.names} & {n.lower() for n in names}:
        raise AcmeProblem(
            "malformed",
            f"replaces: certificate {serial} shares no identifier with this order "
            f"({', '.join(record.names)} vs {', '.join(names)})",
        )
    if acme.store.replacing_orders(serial):
        raise AcmeProblem(
            "alreadyReplaced", f"certificate {serial} is already replaced by another order"
        )
    return value, serial, acme.store.in_open_incident(serial)


def _preflight(acme: Acme, names: list[str]) -> None:
    from certkeeper.validation.errors import RejectedIdentifier

    problems: list[Subproblem] = []
    for name in names:
        wildcard = name.startswith("*.")
        try:
            acme.validator.preflight(name[2:] if wildcard else name, wildcard=wildcard)
        except RejectedIdentifier as exc:
            problems.append(Subproblem("rejectedIdentifier", exc.detail, name))
    if len(problems) == 1:
        raise AcmeProblem("rejectedIdentifier", problems[0].detail, subproblems=tuple(problems))
    if problems:
        raise AcmeProblem(
            "rejectedIdentifier",
            f"{len(problems)} identifiers are refused: {', '.join(p.identifier for p in problems)}",
            subproblems=tuple(problems),
        )


# -- order status ----------------------------------------------------------------------


def current(acme: Acme, order: OrderRow) -> tuple[OrderRow, list[AuthorizationRow]]:
    """The order with pending/ready derived from its authorizations, and expiry applied
    (RFC 8555 7.1.6); a change is stored so every process sees the same state."""
    from certkeeper.acme.authz import fail_stale

    authzs = acme.store.order_authorizations(order.id)
    if order.status == "pending" and fail_stale(acme, authzs):
        authzs = acme.store.order_authorizations(order.id)
    now = acme.clock()
    status = order.status
    if status in ("pending", "ready"):
        states = [authz_status(a, now) for a in authzs]
        if order.expires <= now or any(
            s in ("invalid", "deactivated", "expired", "revoked") for s in states
        ):
            status = "invalid"
        elif states and all(s == "valid" for s in states):
            status = "ready"
        else:
            status = "pending"
        if status != order.status:
            error = None
            if status == "invalid":
                error = _authz_failure(authzs, now) if order.expires > now else None
            acme.store.set_order_status(order.id, status, expect=(order.status,), error=error)
            refreshed = acme.store.order(order.id)
            assert refreshed is not None
            order = refreshed
    return order, authzs


def authz_status(authz: AuthorizationRow, now: datetime) -> str:
    if authz.status in ("pending", "valid") and authz.expires <= now:
        return "expired"
    return authz.status


def _authz_failure(authzs: list[AuthorizationRow], now: datetime) -> dict[str, Any]:
    subs = []
    for authz in authzs:
        state = authz_status(authz, now)
        if state == "valid":
            continue
        failed = next((c for c in authz.challenges if c.error), None)
        name = ("*." if authz.wildcard else "") + authz.identifier
        if failed is not None and failed.error is not None:
            kind = str(failed.error.get("type", "")).rsplit(":", 1)[-1] or "unauthorized"
            subs.append(Subproblem(kind, str(failed.error.get("detail", "")), name))
        else:
            subs.append(Subproblem("unauthorized", f"authorization is {state}", name))
    return StoredError(
        "unauthorized", "an authorization of the order is not valid", 403, tuple(subs)
    ).to_json()


def order_json(acme: Acme, urls: Urls, order: OrderRow, authzs: list[AuthorizationRow]) -> Any:
    doc: dict[str, Any] = {
        "status": order.status,
        "expires": rfc3339(order.expires),
        "identifiers": [identifier_json(n) for n in order.identifiers],
        "authorizations": [urls.authz(a.id) for a in authzs],
        "finalize": urls.finalize(order.id),
    }
    if order.replaces:
        doc["replaces"] = order.replaces
    if order.profile:
        doc["profile"] = order.profile
    if order.error:
        doc["error"] = order.error
    if order.status == "valid" and order.certificate_serial:
        doc["certificate"] = urls.certificate(order.certificate_serial)
    return doc


def _order_response(acme: Acme, urls: Urls, order: OrderRow, status: int) -> Response:
    order, authzs = current(acme, order)
    headers = [("Location", urls.order(order.id))]
    if order.status == "processing":
        headers.append(("Retry-After", str(acme.settings.processing_retry_after)))
    return Response.json(status, order_json(acme, urls, order, authzs), headers)


def _owned_order(acme: Acme, verified: Verified, order_id: int) -> tuple[AccountRow, OrderRow]:
    account = require_account(verified)
    order = acme.store.order(order_id)
    if order is None or order.account_id != account.id:
        raise AcmeProblem("malformed", f"no order {order_id} for this account", status=404)
    return account, order


def get_order(acme: Acme, request: Request, order_id: int) -> Response:
    verified = authenticate(acme, request, use_jwk=False)
    account, order = _owned_order(acme, verified, order_id)
    if order.status == "processing" and order.certificate_serial:
        order = _complete_waiting(acme, acme.urls(request), account, order)
    return _order_response(acme, acme.urls(request), order, 200)


def _complete_waiting(acme: Acme, urls: Urls, account: AccountRow, order: OrderRow) -> OrderRow:
    """An order whose precertificate waits for SCTs (docs/ct.md): try to finish it now,
    through the same `resume` as `certkeeper issue --resume`."""
    from certkeeper.issuance.service import SctsPending

    serial = order.certificate_serial
    assert serial is not None
    service = acme.ca.issuance(urls.account(account.id))
    try:
        service.resume(serial)
    except SctsPending:
        return order
    except CertkeeperError as exc:
        if acme.ca.stores.inventory.serial_state(serial) != "issued":  # not a parallel poll's win
            log.error("completing order %s (serial %s) failed: %s", order.id, serial, exc)
            problem = AcmeProblem(
                "serverInternal", "the certificate could not be completed; try a new order"
            )
            acme.store.set_order_status(
                order.id, "invalid", expect=("processing",), error=problem.to_json()
            )
    else:
        log.info(
            "certificate issued",
            extra={"order": order.id, "account": account.id, "serial": serial},
        )
    if acme.ca.stores.inventory.serial_state(serial) == "issued":
        acme.store.set_order_status(order.id, "valid", expect=("processing",))
    refreshed = acme.store.order(order.id)
    assert refreshed is not None
    return refreshed


# -- finalize --------------------------------------------------------------------------


def finalize(acme: Acme, request: Request, order_id: int) -> Response:
    from certkeeper.ca.profile_registry import ProfileUnavailable
    from certkeeper.issuance.csr import load_csr
    from certkeeper.issuance.service import (
        IssueRequest,
        KeyRefused,
        LintRefused,
        SctsPending,
    )

    verified = authenticate(acme, request, use_jwk=False)
    account, order = _owned_order(acme, verified, order_id)
    urls = acme.urls(request)
    order, authzs = current(acme, order)
    if order.status != "ready":
        raise AcmeProblem(
            "orderNotReady", f"order {order.id} is {order.status}, not ready for finalization"
        )
    payload = verified.jws.payload_json()
    der = jws.b64url_decode(payload.get("csr"), "csr")
    try:
        csr = load_csr(der, "CSR")
    except InputError as exc:
        raise AcmeProblem("badCSR", str(exc)) from None
    wanted = sorted(order.identifiers)
    if sorted(csr.names) != wanted:
        raise AcmeProblem(
            "badCSR",
            f"the CSR names {', '.join(csr.names) or 'nothing'}; the order is for exactly "
            f"{', '.join(wanted)}",
        )
    key_thumb = jws.thumbprint(csr.public_key)
    if key_thumb == account.thumbprint or acme.store.account_by_thumbprint(key_thumb):
        raise AcmeProblem("badCSR", "the CSR key is an ACME account key; use a separate key")
    chosen = acme.settings.profile(order.profile) if order.profile else None
    if order.profile and chosen is None:
        raise AcmeProblem("invalidProfile", f"profile {order.profile!r} is no longer offered")
    if chosen is not None:
        profile = chosen.for_key(csr.key_type)
    elif csr.key_type.startswith("rsa"):
        profile = acme.settings.rsa_profile
    else:
        profile = acme.settings.ecdsa_profile
    # certificates_per_domain_per_week counts issued certificates, so it is taken here,
    # atomically, not only checked at newOrder (orders opened in advance, parallel accounts)
    quota = acme.limits.take([] if order.rate_exempt else acme.limits.certificates(wanted))
    if not acme.store.set_order_status(
        order.id, "processing", expect=("ready",), key_thumbprint=key_thumb
    ):
        acme.limits.give_back(quota)
        raise AcmeProblem("orderNotReady", f"order {order.id} is already being finalized")
    service = acme.ca.issuance(urls.account(account.id))
    problem: AcmeProblem | None = None
    waiting: SctsPending | None = None
    try:
        issued = service.issue(
            IssueRequest(
                csr=csr,
                profile_id=profile,
                subscriber_id=account.subscriber_id,
                names=tuple(order.identifiers),
            )
        )
    except NameNotAuthorized as exc:
        problem = AcmeProblem(
            exc.problem_type,
            str(exc),
            subproblems=(Subproblem(exc.problem_type, str(exc), exc.name),),
        )
    except KeyRefused as exc:
        problem = AcmeProblem("badPublicKey", str(exc))
    except ProfileUnavailable as exc:
        # Stopped by the operator (disabled, or its file out of step): the client did
        # nothing wrong, and the reason (an incident, a name) is the operator's.
        log.warning("order %s refused: %s", order.id, exc)
        problem = AcmeProblem(
            "serverInternal", "certificates of this kind are not issued at the moment; try later"
        )
    except LintRefused as exc:
        problem = AcmeProblem("badCSR", str(exc))
    except SctsPending as exc:
        waiting = exc
    except IssuanceRefused as exc:
        problem = AcmeProblem("badCSR", str(exc))
    except CertkeeperError as exc:
        # Configuration or key trouble: the operator needs the detail, the client does not.
        log.error("issuance for order %s failed: %s", order.id, exc)
        problem = AcmeProblem("serverInternal", "the CA could not issue now; try again later")
    except Exception:
        log.exception("issuance for order %s failed", order.id)
        problem = AcmeProblem("serverInternal", "issuance failed; try again with a new order")
    if waiting is not None:
        # CT (docs/ct.md): the precertificate waits for SCTs. The order stays "processing"
        # (RFC 8555 7.1.6) and names its serial; each poll of the order tries to finish it.
        log.info(
            "order waits for SCTs",
            extra={"order": order.id, "account": account.id, "serial": waiting.serial},
        )
        acme.store.set_order_status(
            order.id, "processing", expect=("processing",), certificate_serial=waiting.serial
        )
        waited = acme.store.order(order.id)
        assert waited is not None
        return _order_response(acme, urls, waited, 200)
    if problem is not None:
        acme.limits.give_back(quota)
        log.info(
            "order refused at finalize",
            extra={"order": order.id, "account": account.id, "problem": problem.type},
        )
        acme.store.set_order_status(
            order.id, "invalid", expect=("processing",), error=problem.to_json()
        )
        raise problem
    acme.store.set_order_status(
        order.id, "valid", expect=("processing",), certificate_serial=issued.serial
    )
    log.info(
        "certificate issued",
        extra={"order": order.id, "account": account.id, "serial": issued.serial},
    )
    # The CAA checks made for this finalize name the certificate they allowed (audit).
    attach_serial = getattr(service.name_authorizer, "attach_serial", None)
    if attach_serial is not None:
        attach_serial(issued.serial)
    refreshed = acme.store.order(order.id)
    assert refreshed is not None
    doc = order_json(acme, urls, refreshed, authzs)
    return Response.json(200, doc, [("Location", urls.order(order.id))])


# -- certificate download ---------------------------------------------------------------


def certificate(acme: Acme, request: Request, serial: str) -> Response:
    """The leaf and its issuing CA, PEM (RFC 8555 7.4.2). POST-as-GET; a plain GET is
    also answered, since a certificate is public."""
    if request.method == "POST":
        authenticate(acme, request, use_jwk=False)
    if not re.fullmatch(r"[0-9a-f]{1,40}", serial):
        raise AcmeProblem("malformed", "no such certificate", status=404)
    try:
        record = acme.ca.stores.inventory.certificate(serial=serial)
    except NotFound:
        raise AcmeProblem("malformed", f"no certificate {serial}", status=404) from None
    issuer = acme.ca.stores.inventory.issuer(record.issuer_id)
    pem = _pem(record.der) + _pem(issuer.cert_der)
    return Response(200, pem, PEM_CHAIN_TYPE)


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
