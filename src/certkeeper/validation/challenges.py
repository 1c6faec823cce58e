"""One network perspective's check of an ACME challenge, over the real network path.

http-01 (RFC 8555 8.3, BR 3.2.2.4.19), dns-01 (RFC 8555 8.4, BR 3.2.2.4.7) and
tls-alpn-01 (RFC 8737, BR 3.2.2.4.20); for an IP address identifier (RFC 8738), http-01
and tls-alpn-01 connect to the address itself (BR 3.2.2.5.6, 3.2.2.5.7), tls-alpn-01
sending the reverse-DNS name as SNI, and dns-01 does not apply. Names are resolved
through a fresh resolver (`dnsclient`), never the operating system's cache, so a remote
perspective running the same code sees the network from where it stands. Nothing here
raises for network trouble: every failure is a CheckResult with an RFC 8555 problem type
and the evidence gathered so far, which the validation record keeps.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import socket
import ssl
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.dnsclient import LookupFailed, addresses, lookup, overall
from certkeeper.validation.ip_identifiers import is_ip, parse_ip, reverse_name
from certkeeper.validation.model import ChallengeAttempt, CheckResult
from certkeeper.x509.oids import OID_ACME_IDENTIFIER

MAX_REDIRECTS = 10
MAX_BODY = 8192  # a key authorization is ~90 bytes; anything near this is not one
REDIRECT_STATUSES = frozenset({301, 302, 307, 308})  # BR 3.2.2.4.19 1.a
ACME_TLS_ALPN = "acme-tls/1"
ID_PE_ACME_IDENTIFIER = ObjectIdentifier(OID_ACME_IDENTIFIER)  # RFC 8737 6.1
USER_AGENT = "certkeeper-va"


class _Failed(Exception):
    def __init__(self, problem_type: str, detail: str) -> None:
        super().__init__(detail)
        self.problem_type = problem_type
        self.detail = detail


def check_challenge(attempt: ChallengeAttempt, settings: ValidationSettings) -> CheckResult:
    """Check `attempt` once, now, bounded by settings.timeout_seconds."""
    deadline = time.monotonic() + settings.timeout_seconds
    evidence: dict[str, Any] = {
        "challenge_type": attempt.challenge_type,
        "identifier": attempt.identifier,
        "resolver": settings.resolver or "system",
    }
    checks = {"http-01": _http01, "dns-01": _dns01, "tls-alpn-01": _tls_alpn01}
    check = checks.get(attempt.challenge_type)
    if check is None:
        return CheckResult(
            False, f"unsupported challenge type {attempt.challenge_type!r}", "malformed", evidence
        )
    if not attempt.key_authorization.startswith(attempt.token + ".") or not attempt.token:
        return CheckResult(
            False,
            "the key authorization does not begin with the token (RFC 8555 8.1)",
            "malformed",
            evidence,
        )
    if attempt.challenge_type == "dns-01" and is_ip(attempt.identifier):
        return CheckResult(
            False,
            "dns-01 cannot validate an IP address (RFC 8738 7); use http-01 or tls-alpn-01",
            "rejectedIdentifier",
            evidence,
        )
    if attempt.wildcard and attempt.challenge_type != "dns-01":
        return CheckResult(
            False,
            f"{attempt.challenge_type} cannot validate a wildcard name (BR 3.2.2.4)",
            "rejectedIdentifier",
            evidence,
        )
    try:
        detail = check(attempt, settings, deadline, evidence)
    except _Failed as exc:
        return CheckResult(False, exc.detail, exc.problem_type, evidence, _dnssec(evidence))
    return CheckResult(True, detail, None, evidence, _dnssec(evidence))


def _note_dnssec(ev: dict[str, Any], name: str, rdtype: str, status: str) -> None:
    """Keep each lookup's DNSSEC status in the evidence (BR 3.2.2.4: every query)."""
    ev.setdefault("dnssec_lookups", []).append({"name": name, "type": rdtype, "dnssec": status})


def _dnssec(ev: dict[str, Any]) -> str | None:
    lookups = ev.get("dnssec_lookups") or []
    status = overall([str(entry["dnssec"]) for entry in lookups]) if lookups else None
    if status is not None:
        ev["dnssec"] = status
    return status


def key_authorization_digest(key_authorization: str) -> str:
    """base64url(SHA-256(key authorization)) without padding (RFC 8555 8.4)."""
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- dns-01 ---------------------------------------------------------------------------


def _dns01(
    attempt: ChallengeAttempt, settings: ValidationSettings, deadline: float, ev: dict[str, Any]
) -> str:
    name = f"_acme-challenge.{attempt.identifier}"
    expected = key_authorization_digest(attempt.key_authorization)
    ev["query"] = name
    try:
        answer = lookup(name, "TXT", settings, deadline)
    except LookupFailed as exc:
        raise _Failed("dns", str(exc)) from None
    _note_dnssec(ev, name, "TXT", answer.dnssec)
    values = [
        b"".join(getattr(r, "strings", ())).decode("utf-8", "replace") for r in answer.records
    ]
    ev["cnames"] = list(answer.cnames)
    ev["txt"] = values
    if expected in values:
        via = f" (via {answer.canonical})" if answer.cnames else ""
        return f"TXT {name}{via} holds the expected digest"
    if not values:
        raise _Failed("dns", f"no TXT record at {name}")
    raise _Failed(
        "incorrectResponse",
        f"TXT {name} holds {len(values)} value(s), none is the expected digest {expected}",
    )


# --- http-01 --------------------------------------------------------------------------


def _http01(
    attempt: ChallengeAttempt, settings: ValidationSettings, deadline: float, ev: dict[str, Any]
) -> str:
    port = settings.http_port
    host = _url_host(attempt.identifier)
    authority = host if port == 80 else f"{host}:{port}"
    url = f"http://{authority}/.well-known/acme-challenge/{attempt.token}"
    chain: list[dict[str, Any]] = []
    ev["urls"] = chain
    authorized_ports = {80, 443, settings.http_port, *settings.redirect_ports}
    for hop in range(MAX_REDIRECTS + 1):
        step: dict[str, Any] = {"url": url}
        chain.append(step)
        status, location, body = _fetch(url, settings, deadline, step, ev)
        step["status"] = status
        if status in REDIRECT_STATUSES:
            if location is None:
                raise _Failed("connection", f"{url}: redirect {status} without a Location")
            if hop == MAX_REDIRECTS:
                raise _Failed("connection", f"more than {MAX_REDIRECTS} redirects from {chain[0]}")
            url = _redirect_target(url, location, authorized_ports)
            continue
        if not 200 <= status < 300:
            problem = "unauthorized" if status in (401, 403, 404) else "connection"
            raise _Failed(problem, f"{url} answered HTTP {status} (a 2xx is required)")
        text = body.decode("utf-8", "replace").rstrip(" \t\r\n")
        step["body"] = text[:256]
        if text != attempt.key_authorization:
            raise _Failed(
                "incorrectResponse",
                f"{url}: the body is not the key authorization (got {text[:80]!r})",
            )
        return f"{url} returned the key authorization"
    raise _Failed("connection", "redirect loop")  # unreachable: the loop returns or raises


def _redirect_target(current: str, location: str, ports: set[int]) -> str:
    target = urljoin(current, location.strip())
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https"):
        raise _Failed("connection", f"redirect to {target!r}: only http and https are followed")
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:
        raise _Failed("connection", f"redirect to {target!r}: bad port") from None
    if port not in ports:
        raise _Failed(
            "connection", f"redirect to {target!r}: port {port} is not an Authorized Port"
        )
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise _Failed("connection", f"redirect to {target!r}: IP address hosts are not followed")
    if not host:
        raise _Failed("connection", f"redirect to {target!r} has no host")
    return target


def _fetch(
    url: str,
    settings: ValidationSettings,
    deadline: float,
    step: dict[str, Any],
    ev: dict[str, Any],
) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    sock, address = _connect(host, port, settings, deadline, step, ev)
    try:
        if https:
            ctx = ssl.create_default_context()
            # Control is shown by the token in the body; RFC 8555 8.3 redirects to https
            # commonly land on certificates we would not trust, so none is required.
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                raise _Failed("tls", f"TLS with {address} for {url} failed: {exc}") from None
        conn = http.client.HTTPConnection(host, port, timeout=_remaining(deadline))
        conn.sock = sock
        hostport = (
            _url_host(host) if port == (443 if https else 80) else f"{_url_host(host)}:{port}"
        )
        try:
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", hostport)
            conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Accept", "*/*")
            conn.putheader("Connection", "close")
            conn.endheaders()
            response = conn.getresponse()
            body = response.read(MAX_BODY + 1)
        except TimeoutError:
            raise _Failed("connection", f"{url}: timed out waiting for {address}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Failed(
                "connection", f"{url}: HTTP exchange with {address} failed: {exc}"
            ) from None
        if len(body) > MAX_BODY and response.status < 300:
            raise _Failed("unauthorized", f"{url}: body longer than {MAX_BODY} bytes")
        return response.status, response.getheader("Location"), body
    finally:
        sock.close()


def _url_host(host: str) -> str:
    """A host as a URL and a Host header write it: an IPv6 address in brackets (RFC 3986
    3.2.2, RFC 8738 4)."""
    ip = parse_ip(host)
    return f"[{ip}]" if ip is not None and ip.version == 6 else host


def _connect(
    host: str,
    port: int,
    settings: ValidationSettings,
    deadline: float,
    step: dict[str, Any],
    ev: dict[str, Any],
) -> tuple[socket.socket, str]:
    ip = parse_ip(host)
    if ip is not None:  # RFC 8738: the identifier is the address; no DNS lookup
        addrs = [str(ip)]
    else:
        try:
            addrs, dnssec = addresses(host, settings, deadline)
        except LookupFailed as exc:
            raise _Failed("dns", str(exc)) from None
        step["dnssec"] = dnssec
        _note_dnssec(ev, host, "AAAA/A", dnssec)
    step["addresses"] = addrs
    if not addrs:
        raise _Failed("dns", f"{host} has no A or AAAA records")
    usable = [a for a in addrs if settings.private_addresses or ipaddress.ip_address(a).is_global]
    if not usable:
        raise _Failed(
            "connection",
            f"{host} is or resolves only to non-public addresses ({', '.join(addrs)})",
        )
    errors: list[str] = []
    for address in usable:
        if time.monotonic() >= deadline:
            break
        try:
            sock = socket.create_connection((address, port), timeout=_remaining(deadline))
        except OSError as exc:
            errors.append(f"{address}: {exc.strerror or exc}")
            continue
        sock.settimeout(_remaining(deadline))
        step["address"] = address
        return sock, address
    raise _Failed(
        "connection",
        f"cannot connect to {host} port {port}: {'; '.join(errors) or 'timed out'}",
    )


def _remaining(deadline: float) -> float:
    return max(0.05, deadline - time.monotonic())


# --- tls-alpn-01 ----------------------------------------------------------------------


def _tls_alpn01(
    attempt: ChallengeAttempt, settings: ValidationSettings, deadline: float, ev: dict[str, Any]
) -> str:
    name = attempt.identifier
    port = settings.tls_alpn_port
    # RFC 8738 6: for an IP address, SNI carries its reverse-DNS name (RFC 6066 has no
    # IP form), and the certificate names the address itself.
    sni = reverse_name(name) if is_ip(name) else name
    step: dict[str, Any] = {"host": name, "port": port, "sni": sni}
    ev["tls"] = step
    sock, address = _connect(name, port, settings, deadline, step, ev)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737 3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([ACME_TLS_ALPN])
    try:
        try:
            tls = ctx.wrap_socket(sock, server_hostname=sni)
        except (ssl.SSLError, OSError) as exc:
            raise _Failed("tls", f"TLS handshake with {address}:{port} failed: {exc}") from None
        try:
            protocol = tls.selected_alpn_protocol()
            der = tls.getpeercert(binary_form=True)
        finally:
            tls.close()
    finally:
        sock.close()
    step["alpn"] = protocol
    if protocol != ACME_TLS_ALPN:
        raise _Failed("tls", f"{address}:{port} did not negotiate ALPN {ACME_TLS_ALPN!r}")
    if not der:
        raise _Failed("tls", f"{address}:{port} presented no certificate")
    step["certificate_sha256"] = hashlib.sha256(der).hexdigest()
    _check_alpn_certificate(der, name, attempt.key_authorization)
    return f"{address}:{port} presented the acme-tls/1 certificate for {name}"


def _check_alpn_certificate(der: bytes, name: str, key_authorization: str) -> None:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _Failed("tls", f"the acme-tls/1 certificate does not parse: {exc}") from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise _Failed("unauthorized", "the acme-tls/1 certificate has no subjectAltName") from None
    entries = list(san.value)
    ip = parse_ip(name)
    if ip is not None:  # RFC 8738 6: exactly one iPAddress, the address validated
        found = [str(e.value) for e in entries if isinstance(e, x509.IPAddress)]
        wanted, kind = [str(ip)], "iPAddress"
    else:
        found = [e.value.lower() for e in entries if isinstance(e, x509.DNSName)]
        wanted, kind = [name], "dNSName"
    if len(entries) != 1 or found != wanted:
        raise _Failed(
            "unauthorized",
            f"the acme-tls/1 certificate's subjectAltName must be exactly {kind} {name} "
            f"(RFC 8737 3, RFC 8738 6), found {len(entries)} entries",
        )
    try:
        ext = cert.extensions.get_extension_for_oid(ID_PE_ACME_IDENTIFIER)
    except x509.ExtensionNotFound:
        raise _Failed(
            "unauthorized", "the acme-tls/1 certificate lacks the acmeIdentifier extension"
        ) from None
    if not ext.critical:
        raise _Failed("unauthorized", "the acmeIdentifier extension is not critical (RFC 8737 3)")
    raw = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
    expected = hashlib.sha256(key_authorization.encode("ascii")).digest()
    # extnValue holds Authorization ::= OCTET STRING (SIZE (32)), DER: 04 20 <32 bytes>
    if raw != b"\x04\x20" + expected:
        raise _Failed(
            "unauthorized",
            "the acmeIdentifier extension does not hold SHA-256 of the key authorization",
        )
