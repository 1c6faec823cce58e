"""The validation authority end to end: preflight, validation records, reuse, and the
issuance gate (records + CAA) in front of a real CA home, over real DNS and HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper.ca.home import CaHome
from certkeeper.errors import NameNotAuthorized
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import (
    Issued,
    IssueRequest,
)
from certkeeper.settings.validation import ValidationSettings
from certkeeper.store.validations import DomainValidationStore
from certkeeper.validation.authority import ValidationAuthority
from certkeeper.validation.challenges import key_authorization_digest
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.model import ChallengeAttempt
from certkeeper.wiring import (
    issuance_service_with,
    key_checker,
    sct_source,
    validation_authority,
)
from dnsserver import ChallTestSrv
from factories import PASSPHRASE, csr_pem, make_home
from public_ct import PublicCt
from validation.conftest import CA_IDENTITY, Route, WebServer

ACCOUNT = "https://ca.example/acme/acct/1"
OTHER_ACCOUNT = "https://ca.example/acme/acct/2"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def home_dir(tmp_path_factory: pytest.TempPathFactory, public_ct: PublicCt) -> Path:
    return make_home(tmp_path_factory.mktemp("va") / "home", public_ct, public=True)


@pytest.fixture
def ca(
    home_dir: Path,
    settings: ValidationSettings,
    web: WebServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    opened = CaHome.open(home_dir)
    validation = replace(settings, http_port=web.port, redirect_ports=(web.port,))
    home = CaHome(replace(opened.config, validation=validation))
    yield home
    home.close()
    opened.close()


def name() -> str:
    return f"v{uuid.uuid4().hex[:12]}.example.com"


def http_attempt(fqdn: str, account: str = ACCOUNT) -> ChallengeAttempt:
    token = uuid.uuid4().hex
    return ChallengeAttempt(fqdn, "http-01", token, f"{token}.thumb", account)


def serve(web: WebServer, attempt: ChallengeAttempt) -> None:
    path = f"/.well-known/acme-challenge/{attempt.token}"
    web.set(attempt.identifier, path, Route(body=attempt.key_authorization.encode()))


def issue(
    ca: CaHome,
    va: ValidationAuthority,
    names: list[str],
    account: str = ACCOUNT,
    steps: list[str] | None = None,
) -> Issued:
    service = issuance_service_with(
        ca,
        name_authorizer=va.authorizer(account),
        key_checker=key_checker(ca),
        sct_source=sct_source(ca),
        on_step=None if steps is None else steps.append,
    )
    return service.issue(IssueRequest(load_csr(csr_pem(names)), "tls-dv-ecdsa"))


def test_seed_002_name_under_undelegated_tld_cannot_be_validated(
    ca: CaHome, web: WebServer
) -> None:
    va = validation_authority(ca)
    with pytest.raises(RejectedIdentifier, match="never been delegated"):
        va.preflight("portal.ap.gbl", wildcard=False)
    attempt = http_attempt("portal.ap.gbl")
    web.set("*", f"/.well-known/acme-challenge/{attempt.token}", Route(body=b"x"))
    outcome = va.validate(attempt)
    assert not outcome.valid and outcome.problem_type == "rejectedIdentifier"
    assert web.requests == []  # no challenge was even attempted
    assert DomainValidationStore(ca.inventory.engine).history("portal.ap.gbl") == []
    with pytest.raises(NameNotAuthorized) as refused:
        issue(ca, va, ["portal.ap.gbl"])
    assert refused.value.problem_type == "rejectedIdentifier"


# "224.0.0.1": an IP address identifier is reserved (multicast) even where the test
# setting private_addresses lets loopback and private ones through
@pytest.mark.parametrize(
    "bad", ["co.uk", "*.co.uk", "printer.local", "a_b.example.com", "224.0.0.1", "*.8.8.8.8"]
)
def test_preflight_rejections(ca: CaHome, bad: str) -> None:
    with pytest.raises(RejectedIdentifier):
        validation_authority(ca).preflight(bad, wildcard=bad.startswith("*."))


def test_offered_challenges(ca: CaHome) -> None:
    va = validation_authority(ca)
    assert va.offered_challenges("www.example.com", wildcard=False) == [
        "dns-01",
        "http-01",
        "tls-alpn-01",
    ]
    assert va.offered_challenges("example.com", wildcard=True) == ["dns-01"]


def test_validation_record_and_reuse(ca: CaHome, web: WebServer) -> None:
    clock = Clock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    va = validation_authority(ca, clock=clock)
    fqdn = name()
    attempt = http_attempt(fqdn)
    serve(web, attempt)
    outcome = va.validate(attempt)
    assert outcome.valid, outcome.detail
    assert outcome.record_id is not None and outcome.corroboration is not None
    record = DomainValidationStore(ca.inventory.engine).get(outcome.record_id)
    assert record is not None
    assert (record.fqdn, record.method, record.challenge_type) == (fqdn, "3.2.2.4.19", "http-01")
    assert record.validated_at == clock.now
    assert record.reuse_until == clock.now + timedelta(days=200)  # BR 4.2.1 since 2026-03-15
    assert record.evidence["urls"][0]["status"] == 200
    assert record.perspectives["passed"] is True

    assert va.reusable(fqdn, ACCOUNT, wildcard=False) == outcome.record_id
    assert va.reusable(fqdn, OTHER_ACCOUNT, wildcard=False) is None
    assert va.reusable(fqdn, ACCOUNT, wildcard=True) is None  # http-01 cannot cover *.
    clock.now += timedelta(days=199, hours=23)
    assert va.reusable(fqdn, ACCOUNT, wildcard=False) == outcome.record_id
    clock.now += timedelta(hours=1)
    assert va.reusable(fqdn, ACCOUNT, wildcard=False) is None


def test_configured_reuse_is_capped_and_shortened(ca: CaHome, web: WebServer) -> None:
    clock = Clock(datetime(2026, 11, 23, tzinfo=UTC))
    short = CaHome(replace(ca.config, validation=replace(ca.config.validation, reuse_days=30)))
    va = validation_authority(short, clock=clock)
    attempt = http_attempt(name())
    serve(web, attempt)
    outcome = va.validate(attempt)
    assert outcome.record_id is not None
    record = va.store.get(outcome.record_id)
    assert record is not None and record.reuse_until == clock.now + timedelta(days=30)
    # A record made under a longer limit is cut when the BR limit shrinks (2027-03-15: 100).
    clock.now = datetime(2027, 3, 1, tzinfo=UTC)
    va = validation_authority(ca, clock=clock)
    attempt = http_attempt(name())
    serve(web, attempt)
    outcome = va.validate(attempt)
    record = va.store.get(outcome.record_id or 0)
    assert record is not None and record.reuse_until == clock.now + timedelta(days=200)
    clock.now = datetime(2027, 3, 14, 23, tzinfo=UTC)
    assert va.reusable(attempt.identifier, ACCOUNT, wildcard=False) == outcome.record_id
    clock.now = datetime(2027, 3, 15, tzinfo=UTC)  # 14 days old, but now the limit is 100
    assert va.reusable(attempt.identifier, ACCOUNT, wildcard=False) == outcome.record_id
    clock.now = datetime(2027, 6, 9, 1, tzinfo=UTC)  # 100 days and an hour: cut from 200
    assert va.reusable(attempt.identifier, ACCOUNT, wildcard=False) is None


def test_failed_challenge_stores_nothing(ca: CaHome) -> None:
    va = validation_authority(ca)
    attempt = http_attempt(name())
    outcome = va.validate(attempt)
    assert not outcome.valid and outcome.problem_type == "unauthorized"
    assert va.store.history(attempt.identifier) == []


def test_mpic_required_without_perspectives_refuses(ca: CaHome, web: WebServer) -> None:
    strict = CaHome(
        replace(ca.config, validation=replace(ca.config.validation, mpic_required=True))
    )
    va = validation_authority(strict)
    attempt = http_attempt(name())
    serve(web, attempt)
    outcome = va.validate(attempt)
    assert not outcome.valid and "corroboration" in outcome.detail
    assert va.store.history(attempt.identifier) == []


def test_issuance_needs_a_record_of_this_account(ca: CaHome, web: WebServer) -> None:
    va = validation_authority(ca)
    fqdn = name()
    with pytest.raises(NameNotAuthorized) as refused:
        issue(ca, va, [fqdn])
    assert refused.value.problem_type == "unauthorized" and refused.value.name == fqdn
    attempt = http_attempt(fqdn, OTHER_ACCOUNT)
    serve(web, attempt)
    assert va.validate(attempt).valid
    with pytest.raises(NameNotAuthorized):
        issue(ca, va, [fqdn])  # validated, but by another account


def test_issuance_with_records_and_caa_recorded(
    ca: CaHome, web: WebServer, dns: ChallTestSrv
) -> None:
    va = validation_authority(ca)
    a, b = name(), name()
    dns.add_caa(a, [("issue", f"{CA_IDENTITY}; accounturi={ACCOUNT}")])
    for fqdn in (a, b):
        attempt = http_attempt(fqdn)
        serve(web, attempt)
        assert va.validate(attempt).valid
    authorizer = va.authorizer(ACCOUNT)
    service = issuance_service_with(
        ca, name_authorizer=authorizer, key_checker=key_checker(ca), sct_source=sct_source(ca)
    )
    issued = service.issue(IssueRequest(load_csr(csr_pem([a, b])), "tls-dv-ecdsa"))
    authorizer.attach_serial(issued.serial)
    checks = va.store.caa_checks(serial=issued.serial)
    assert [(c.fqdn, c.allowed) for c in checks] == [(a, True), (b, True)]
    assert checks[0].evidence["relevant"]["name"] == a
    assert checks[0].context["method"] == "3.2.2.4.19"


def test_caa_forbidding_us_blocks_issuance(ca: CaHome, web: WebServer, dns: ChallTestSrv) -> None:
    va = validation_authority(ca)
    fqdn = name()
    attempt = http_attempt(fqdn)
    serve(web, attempt)
    assert va.validate(attempt).valid
    dns.add_caa(fqdn, [("issue", "other-ca.example")])
    steps: list[str] = []
    with pytest.raises(NameNotAuthorized) as refused:
        issue(ca, va, [fqdn], steps=steps)
    assert steps == ["check_key", "authorize_names"]  # refused before any serial was assigned
    assert refused.value.problem_type == "caa"
    assert "other-ca.example is another CA" in str(refused.value)
    [check] = va.store.caa_checks(fqdn=fqdn)
    assert not check.allowed and check.problem_type == "caa" and check.serial is None


def test_caa_lookup_failure_blocks_issuance(ca: CaHome, web: WebServer, dns: ChallTestSrv) -> None:
    va = validation_authority(ca)
    fqdn = name()
    attempt = http_attempt(fqdn)
    serve(web, attempt)
    assert va.validate(attempt).valid
    dns.set_servfail(fqdn)
    with pytest.raises(NameNotAuthorized) as refused:
        issue(ca, va, [fqdn])
    assert refused.value.problem_type == "dns"
    [check] = va.store.caa_checks(fqdn=fqdn)
    assert not check.allowed and check.problem_type == "dns"


def test_wildcard_through_dns01(ca: CaHome, dns: ChallTestSrv) -> None:
    va = validation_authority(ca)
    fqdn = name()
    token = uuid.uuid4().hex
    attempt = ChallengeAttempt(fqdn, "dns-01", token, f"{token}.thumb", ACCOUNT, wildcard=True)
    dns.set_txt(f"_acme-challenge.{fqdn}", key_authorization_digest(attempt.key_authorization))
    outcome = va.validate(attempt)
    assert outcome.valid, outcome.detail
    record = va.store.get(outcome.record_id or 0)
    assert record is not None and record.method == "3.2.2.4.7" and record.wildcard
    assert va.reusable(f"*.{fqdn}", ACCOUNT, wildcard=True) == outcome.record_id
    assert va.reusable(fqdn, ACCOUNT, wildcard=False) == outcome.record_id
    dns.add_caa(fqdn, [("issue", CA_IDENTITY), ("issuewild", ";")])
    with pytest.raises(NameNotAuthorized) as refused:
        issue(ca, va, [f"*.{fqdn}", fqdn])
    assert refused.value.problem_type == "caa" and refused.value.name == f"*.{fqdn}"


def test_every_name_checked_and_recorded_before_refusal(
    ca: CaHome, web: WebServer, dns: ChallTestSrv
) -> None:
    va = validation_authority(ca)
    names = [name() for _ in range(4)]
    for fqdn in names:
        attempt = http_attempt(fqdn)
        serve(web, attempt)
        assert va.validate(attempt).valid
    dns.add_caa(names[1], [("issue", "other-ca.example")])
    dns.set_servfail(names[3])
    authorizer = va.authorizer(ACCOUNT)
    with pytest.raises(NameNotAuthorized) as refused:
        authorizer(names)
    assert refused.value.name == names[1] and refused.value.problem_type == "caa"
    recorded = {c.fqdn: (c.allowed, c.problem_type) for c in va.store.caa_checks()}
    assert [recorded[n] for n in names] == [
        (True, None),
        (False, "caa"),
        (True, None),
        (False, "dns"),
    ]
    assert len(authorizer.check_ids) == 4
