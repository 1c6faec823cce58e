"""Debian's certbot and lego against `certkeeper serve` on loopback, end to end.

Each client registers with a contact, obtains a certificate for several names by http-01
(its own standalone server on the VA's configured port) and by dns-01 (hooks writing TXT
records into the test DNS server), renews when renewal information (ARI) says so after an
incident is opened on its certificate, and revokes; `openssl verify` checks every chain
and `openssl ocsp` asks our responder about the revoked certificate. A CAA record that
names another CA makes the client fail with our `caa` problem.

Neither certbot 2.1 nor lego 4.9.1 implements ARI (RFC 9773; certbot does from 4.1,
later lego releases have an experimental `renew --ari-enable`): for them the test makes
the renewal decision from our renewal-info answer exactly as an ARI client would (window
start in the past: renew now) and then runs the client's own renewal. The newest
certbot from PyPI (scripts/setup.sh puts it in .venv-certbot) makes that decision
itself, and asks for ACME profiles by name. The `replaces` field is shown with
benchmarks/acme_client.py, which implements ARI.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from acme_client import AcmeClient, ChallengeServer, ari_cert_id
from cryptography import x509

from factories import csr_der
from integration.acme_env import CERTBOT_PYPI, AcmeCa, issuer_pem_for, load_pem, san_names

EXPLANATION = "https://status.certkeeper.test/incidents/7"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_renew_now(ca: AcmeCa, certificate: x509.Certificate) -> None:
    """What an ARI client decides from our answer: the window is past, so renew now."""
    window, retry_after = ca.renewal_info(certificate)
    start = _parse_time(window["suggestedWindow"]["start"])
    end = _parse_time(window["suggestedWindow"]["end"])
    now = datetime.now(UTC)
    assert start < end <= now, window
    assert window.get("explanationURL") == EXPLANATION
    assert retry_after.isdigit() and int(retry_after) > 0


def assert_normal_window(ca: AcmeCa, certificate: x509.Certificate) -> None:
    """A certificate in no incident: the window lies in its future, around 2/3 of validity."""
    window, _ = ca.renewal_info(certificate)
    start = _parse_time(window["suggestedWindow"]["start"])
    end = _parse_time(window["suggestedWindow"]["end"])
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    two_thirds = certificate.not_valid_before_utc + lifetime * 2 / 3
    assert datetime.now(UTC) < start <= two_thirds <= end, window
    assert "explanationURL" not in window


def assert_chain_ok(ca: AcmeCa, leaf: Path) -> None:
    result = ca.openssl_verify(leaf)
    assert result.returncode == 0 and f"{leaf}: OK" in result.output, result.output


def assert_validated(ca: AcmeCa, certificate: x509.Certificate, challenge_type: str) -> None:
    """Every name has a stored validation record by `challenge_type`, corroborated by the
    remote perspectives under the BR 3.2.2.9 quorum, and a CAA check at issuance linked to
    this certificate, also corroborated."""
    names = san_names(certificate)
    perspectives = len(ca.perspectives)
    for name in names:
        fqdn, wildcard = name.removeprefix("*."), name.startswith("*.")
        records = [
            r
            for r in ca.validations(fqdn)
            if r.wildcard == wildcard and r.challenge_type == challenge_type
        ]
        assert records, f"no {challenge_type} validation record for {name}"
        corroboration = records[-1].perspectives
        assert corroboration["passed"] is True, corroboration
        assert len(corroboration["results"]) == perspectives
        assert corroboration["required"] == perspectives - 1
    checks = ca.caa_checks(f"{certificate.serial_number:x}")
    assert {("*." if c.wildcard else "") + c.fqdn for c in checks} == names
    for check in checks:
        assert check.allowed and check.perspectives["passed"] is True, check


def assert_revoked(ca: AcmeCa, leaf: Path, reason: str) -> None:
    """Our OCSP responder, asked by `openssl ocsp`, says revoked with this reason."""
    issuer = issuer_pem_for(ca, load_pem(leaf))
    assert ca.wait_ocsp(leaf, issuer, "revoked") == ("revoked", reason)


# --- certbot --------------------------------------------------------------------------


def test_certbot_register_http01_dns01_ari_renewal_and_revoke(ca: AcmeCa, tmp_path: Path) -> None:
    state = tmp_path / "certbot"
    register = ca.certbot(
        state, "register", "--agree-tos", "-m", "admin@certbot-it.example.com"
    ).check()
    assert "Account registered" in register.output
    shown = ca.certbot(state, "show_account").check()
    assert "admin@certbot-it.example.com" in shown.output

    http_names = [
        "certbot-it.example.com",
        "www.certbot-it.example.com",
        "api.certbot-it.example.com",
    ]
    ca.certbot(
        state, "certonly", "--standalone", "--preferred-challenges", "http",
        "--http-01-port", str(ca.http_port), "--http-01-address", "127.0.0.1",
        "--cert-name", "web", *(f"-d{n}" for n in http_names),
    ).check()  # fmt: skip
    live = state / "config" / "live"
    web_leaf = live / "web" / "cert.pem"
    assert san_names(load_pem(web_leaf)) == set(http_names)
    assert_validated(ca, load_pem(web_leaf), "http-01")
    assert_chain_ok(ca, live / "web" / "fullchain.pem")
    assert_chain_ok(ca, web_leaf)
    assert_normal_window(ca, load_pem(web_leaf))

    dns_names = ["certbot-dns.example.net", "*.certbot-dns.example.net"]
    ca.certbot(
        state, "certonly", "--manual", "--preferred-challenges", "dns",
        "--manual-auth-hook", ca.certbot_hook("auth"),
        "--manual-cleanup-hook", ca.certbot_hook("cleanup"),
        "--cert-name", "wild", *(f"-d{n}" for n in dns_names),
    ).check()  # fmt: skip
    wild_leaf = live / "wild" / "cert.pem"
    assert san_names(load_pem(wild_leaf)) == set(dns_names)
    assert_validated(ca, load_pem(wild_leaf), "dns-01")
    assert_chain_ok(ca, wild_leaf)

    # ARI: an incident on the http-01 certificate moves its window into the past.
    first = load_pem(web_leaf)
    ca.open_incident(first, EXPLANATION)
    assert_renew_now(ca, first)
    ca.certbot(
        state, "renew", "--cert-name", "web", "--force-renewal", "--no-random-sleep-on-renew"
    ).check()
    renewed = load_pem(web_leaf)
    assert renewed.serial_number != first.serial_number
    assert san_names(renewed) == set(http_names)
    assert_chain_ok(ca, web_leaf)
    assert_normal_window(ca, renewed)

    ca.certbot(
        state, "revoke", "--cert-name", "web", "--reason", "superseded",
        "--no-delete-after-revoke",
    ).check()  # fmt: skip
    assert_revoked(ca, web_leaf, "superseded")
    wild_issuer = issuer_pem_for(ca, load_pem(wild_leaf))
    assert ca.ocsp_status(wild_leaf, wild_issuer) == "good"

    # Revocation signed with the certificate's own key (RFC 8555 7.6, jwk form), as a
    # holder of a compromised key would do without the account.
    ca.certbot(
        state, "revoke", "--cert-path", str(wild_leaf),
        "--key-path", str(live / "wild" / "privkey.pem"),
        "--reason", "keycompromise", "--no-delete-after-revoke",
    ).check()  # fmt: skip
    assert_revoked(ca, wild_leaf, "keyCompromise")

    unregister = ca.certbot(state, "unregister").check()
    assert "deactivated" in unregister.output.lower()


def test_newest_certbot_asks_for_profiles_and_renews_when_ari_says_so(
    ca: AcmeCa, tmp_path: Path
) -> None:
    state = tmp_path / "certbot-pypi"
    ca.certbot(
        state, "register", "--agree-tos", "-m", "admin@pypi-it.example.com", binary=CERTBOT_PYPI
    ).check()
    standalone = [
        "certonly", "--standalone", "--preferred-challenges", "http",
        "--http-01-port", str(ca.http_port), "--http-01-address", "127.0.0.1",
    ]  # fmt: skip
    live = state / "config" / "live"

    # a profile by name: the short-lived one (BR: at most 7 days)
    ca.certbot(
        state, *standalone, "--required-profile", "shortlived",
        "--cert-name", "short", "-d", "short.pypi-it.example.com", binary=CERTBOT_PYPI,
    ).check()  # fmt: skip
    short = load_pem(live / "short" / "cert.pem")
    assert short.not_valid_after_utc - short.not_valid_before_utc <= timedelta(days=7)
    assert_chain_ok(ca, live / "short" / "fullchain.pem")

    # a profile the server does not offer: no certificate, and the client says why
    refused = ca.certbot(
        state, *standalone, "--required-profile", "nosuch",
        "--cert-name", "none", "-d", "none.pypi-it.example.com", binary=CERTBOT_PYPI,
    )  # fmt: skip
    assert refused.returncode != 0 and "nosuch" in refused.output
    assert not (live / "none").exists()

    # the default profile, then ARI: a quiet certificate is not due; one that an incident
    # put in the past is renewed by `certbot renew` itself, without --force-renewal
    renew = ["renew", "--no-random-sleep-on-renew"]
    for name in ("calm", "web"):
        ca.certbot(
            state, *standalone, "--cert-name", name, "-d", f"{name}.pypi-it.example.com",
            binary=CERTBOT_PYPI,
        ).check()  # fmt: skip
    calm, first = (load_pem(live / n / "cert.pem") for n in ("calm", "web"))
    assert first.not_valid_after_utc - first.not_valid_before_utc > timedelta(days=7)
    assert_normal_window(ca, calm)
    ca.open_incident(first, EXPLANATION)
    assert_renew_now(ca, first)
    ca.certbot(state, *renew, "--cert-name", "calm", binary=CERTBOT_PYPI).check()
    assert load_pem(live / "calm" / "cert.pem").serial_number == calm.serial_number
    ca.certbot(state, *renew, "--cert-name", "web", binary=CERTBOT_PYPI).check()
    renewed = load_pem(live / "web" / "cert.pem")
    assert renewed.serial_number != first.serial_number
    assert_chain_ok(ca, live / "web" / "cert.pem")


# --- lego -----------------------------------------------------------------------------


def test_lego_register_http01_dns01_ari_renewal_and_revoke(ca: AcmeCa, tmp_path: Path) -> None:
    state = tmp_path / "lego"
    email = "admin@lego-it.example.com"
    http_names = ["lego-it.example.com", "www.lego-it.example.com", "mail.lego-it.example.com"]
    domains = [f"--domains={n}" for n in http_names]
    ca.lego(
        state, "--accept-tos", "--email", email, "--http",
        "--http.port", f"127.0.0.1:{ca.http_port}", *domains, "run",
    ).check()  # fmt: skip
    certificates = state / "certificates"
    web_leaf = certificates / "lego-it.example.com.crt"  # leaf then issuer (a bundle)
    account = next((state / "accounts").rglob("account.json"))
    assert email in account.read_text()
    assert san_names(load_pem(web_leaf)) == set(http_names)
    assert_validated(ca, load_pem(web_leaf), "http-01")
    assert_chain_ok(ca, web_leaf)

    dns_names = ["lego-dns.example.org", "*.lego-dns.example.org"]
    ca.lego(
        state, "--accept-tos", "--email", email, *ca.lego_dns_flags(),
        *(f"--domains={n}" for n in dns_names), "run", dns01=True,
    ).check()  # fmt: skip
    wild_leaf = certificates / "lego-dns.example.org.crt"
    assert san_names(load_pem(wild_leaf)) == set(dns_names)
    assert_validated(ca, load_pem(wild_leaf), "dns-01")
    assert_chain_ok(ca, wild_leaf)

    first = load_pem(web_leaf)
    ca.open_incident(first, EXPLANATION)
    assert_renew_now(ca, first)
    # lego 4.9.1 renews on remaining days only: a horizon beyond the validity forces it.
    ca.lego(
        state, "--email", email, "--http", "--http.port", f"127.0.0.1:{ca.http_port}",
        *domains, "renew", "--days", "3650", "--no-random-sleep",
    ).check()  # fmt: skip
    renewed = load_pem(web_leaf)
    assert renewed.serial_number != first.serial_number
    assert_chain_ok(ca, web_leaf)
    assert_normal_window(ca, renewed)

    ca.lego(state, "--email", email, *domains, "revoke", "--reason", "4", "--keep").check()
    assert_revoked(ca, web_leaf, "superseded")


def certbot_log(state: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in (state / "logs").glob("*.log*"))


# --- CAA ------------------------------------------------------------------------------


def test_caa_naming_another_ca_fails_both_clients_with_our_caa_problem(
    ca: AcmeCa, tmp_path: Path
) -> None:
    ca.dns.add_caa("caa-forbid.example.com", [("issue", "other-ca.example")])
    names = ["caa-forbid.example.com", "www.caa-forbid.example.com"]

    certbot = ca.certbot(
        tmp_path / "certbot", "certonly", "--agree-tos", "-m", "admin@caa-forbid.example.com",
        "--standalone", "--preferred-challenges", "http",
        "--http-01-port", str(ca.http_port), "--http-01-address", "127.0.0.1",
        *(f"-d{n}" for n in names),
    )  # fmt: skip
    assert certbot.returncode != 0
    # Debian's certbot 2.1 crashes while printing an error returned at finalize (josepy
    # refuses to set the exception's __traceback__): the problem is in its debug log.
    seen = certbot.output + certbot_log(tmp_path / "certbot")
    assert "urn:ietf:params:acme:error:caa" in seen or "Type:   caa" in seen
    assert "caa-forbid.example.com" in seen

    lego = ca.lego(
        tmp_path / "lego", "--accept-tos", "--email", "admin@caa-forbid.example.com",
        "--http", "--http.port", f"127.0.0.1:{ca.http_port}",
        *(f"--domains={n}" for n in names), "run",
    )  # fmt: skip
    assert lego.returncode != 0
    assert "urn:ietf:params:acme:error:caa" in lego.output
    assert not list((tmp_path / "lego").rglob("*.crt"))


# --- ARI with a client that sends `replaces` ---------------------------------------------


def test_replacement_order_carries_replaces_after_an_incident(ca: AcmeCa) -> None:
    names = ["ari-it.example.com", "www.ari-it.example.com"]

    async def scenario() -> tuple[x509.Certificate, x509.Certificate, str]:
        async with ChallengeServer(port=ca.http_port) as web:
            client = AcmeClient(ca.directory, timeout=60)
            try:
                await client.start()
                await client.register(["mailto:admin@ari-it.example.com"])
                first = (await client.issue(names, csr_der(names), web.respond)).certificate
                ca.open_incident(first, EXPLANATION)
                window, _ = await client.renewal_info(first)
                assert window.get("explanationURL") == EXPLANATION
                cert_id = ari_cert_id(first)
                second = await client.issue(names, csr_der(names), web.respond, replaces=cert_id)
                order = (await client.post(second.order_url, None)).json()
                return first, second.certificate, str(order.get("replaces", ""))
            finally:
                await client.close()

    first, second, replaces = asyncio.run(scenario())
    assert replaces == ari_cert_id(first)
    assert second.serial_number != first.serial_number
    assert san_names(second) == set(names)


# --- MPIC: remote perspectives down -------------------------------------------------------


def test_one_perspective_down_is_tolerated_two_are_not(ca: AcmeCa, tmp_path: Path) -> None:
    """BR 3.2.2.9 with the remote perspectives required today (four or five): one
    failure is tolerated, two are not.
    The primary's own checks pass throughout; only the perspectives change."""
    down = ca.perspectives[:2]
    args = ["--accept-tos", "--email", "admin@mpic-it.example.com", "--http"]
    args += ["--http.port", f"127.0.0.1:{ca.http_port}"]
    try:
        down[0].stop()
        one = ca.lego(tmp_path / "one", *args, "--domains=one.mpic-it.example.com", "run")
        one.check()
        tolerated = load_pem(tmp_path / "one" / "certificates" / "one.mpic-it.example.com.crt")
        record = ca.validations("one.mpic-it.example.com")[-1].perspectives
        failed = [r for r in record["results"] if not r["ok"]]
        assert [r["perspective"] for r in failed] == [down[0].name]
        assert record["passed"] is True
        assert_chain_ok(ca, tmp_path / "one" / "certificates" / "one.mpic-it.example.com.crt")
        assert tolerated.serial_number

        down[1].stop()
        two = ca.lego(tmp_path / "two", *args, "--domains=two.mpic-it.example.com", "run")
        assert two.returncode != 0
        assert not list((tmp_path / "two").rglob("*.crt"))
        assert "two.mpic-it.example.com" in two.output
        # unreachable perspectives are the CA's failure, never the subscriber's (issue 12)
        assert "urn:ietf:params:acme:error:serverInternal" in two.output, two.output
        assert "unreachable" in two.output
        used = len(ca.perspectives)
        assert f"{used - 2} of {used} remote perspectives corroborated" in two.output, two.output
    finally:
        for perspective in down:
            if perspective.proc is not None and perspective.proc.poll() is not None:
                perspective.start(ca.env)
        for perspective in down:
            perspective.wait()


# --- tls-alpn-01 --------------------------------------------------------------------------


def test_lego_tls_alpn01(ca: AcmeCa, tmp_path: Path) -> None:
    """lego answers tls-alpn-01 (RFC 8737) with its own TLS server on the VA's port."""
    names = ["alpn-it.example.com", "www.alpn-it.example.com"]
    ca.lego(
        tmp_path, "--accept-tos", "--email", "admin@alpn-it.example.com",
        "--tls", "--tls.port", f"127.0.0.1:{ca.tls_alpn_port}",
        *(f"--domains={n}" for n in names), "run",
    ).check()  # fmt: skip
    leaf = tmp_path / "certificates" / "alpn-it.example.com.crt"
    assert san_names(load_pem(leaf)) == set(names)
    assert_validated(ca, load_pem(leaf), "tls-alpn-01")
    assert_chain_ok(ca, leaf)
