"""ACME profiles (draft-ietf-acme-profiles): the directory lists them, newOrder names one,
the certificate is issued under it; the short-lived profile (BR 1.6.1) over real HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from certkeeper import br
from certkeeper.ca.profile_registry import builtin_profile_sources
from certkeeper.errors import ProfileError
from certkeeper.profiles.schema import parse_profile
from certkeeper.settings.acme import parse_acme
from certkeeper.tomlcheck import TomlProblem

from .client import AcmeClient, b64, http
from .conftest import ChallengeWeb, Served
from .helpers import make_csr, solve_http

TODAY = date(2026, 11, 23)  # the BR 6.3.2 limit of profile files is taken on this day


def issue(
    client: AcmeClient, web: ChallengeWeb, name: str, profile: str | None, key: object = None
) -> tuple[dict[str, object], x509.Certificate]:
    extra = {} if profile is None else {"profile": profile}
    reply = client.new_order([name], **extra)
    assert reply.status == 201, reply.body
    order = reply.json()
    for authz_url in order["authorizations"]:
        assert solve_http(client, web, authz_url)["status"] == "valid"
    csr, _ = make_csr([name], key)
    final = client.post(order["finalize"], {"csr": b64(csr)})
    assert final.status == 200, final.body
    pem = client.post(final.json()["certificate"], None).body
    return dict(final.json()), x509.load_pem_x509_certificates(pem)[0]


def has_ocsp_url(cert: x509.Certificate) -> bool:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return False
    return any(d.access_method == AuthorityInformationAccessOID.OCSP for d in aia)


def has_crldp(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
    except x509.ExtensionNotFound:
        return False
    return True


def test_the_directory_lists_the_profiles(served: Served) -> None:
    meta = http("GET", served.directory).json()["meta"]
    assert set(meta["profiles"]) == {"classic", "shortlived"}
    assert "tls-dv-ecdsa-short" in meta["profiles"]["shortlived"]
    assert "short-lived" in meta["profiles"]["shortlived"]


def test_shortlived_issues_a_7_day_certificate_without_ocsp(
    served: Served, web: ChallengeWeb
) -> None:
    client = served.client()
    client.register()
    order, cert = issue(client, web, "short.example.com", "shortlived")
    assert order["profile"] == "shortlived"
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert br.validity_period(nb, na) == timedelta(days=7)
    assert br.is_short_lived(nb, na)
    # no OCSP URL; the CRL stays for Microsoft's root program (the BRs would allow none)
    assert has_crldp(cert) and not has_ocsp_url(cert)
    record = served.home.inventory.certificate(serial=format(cert.serial_number, "x"))
    assert record.profile_id == "tls-dv-ecdsa-short"


def test_shortlived_with_an_rsa_key_uses_the_rsa_profile(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, cert = issue(client, web, "short-rsa.example.com", "shortlived", key)
    record = served.home.inventory.certificate(serial=format(cert.serial_number, "x"))
    assert record.profile_id == "tls-dv-rsa-short"
    assert not has_ocsp_url(cert)


def test_without_a_profile_the_classic_certificate(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    order, cert = issue(client, web, "classic.example.com", None)
    assert "profile" not in order
    assert has_crldp(cert) and has_ocsp_url(cert)
    assert not br.is_short_lived(cert.not_valid_before_utc, cert.not_valid_after_utc)


@pytest.mark.parametrize("profile", ["longlived", "", 7, "SHORTLIVED"])
def test_an_unknown_profile_is_invalid_profile(served: Served, profile: object) -> None:
    client = served.client()
    client.register()
    reply = client.new_order(["unknown-profile.example.com"], profile=profile)
    assert reply.status == 400, reply.body
    assert reply.problem == "invalidProfile"
    assert "shortlived" in reply.json()["detail"]


# --- the BR rule and the profile schema --------------------------------------------------


@pytest.mark.parametrize(
    ("issued", "days", "short"),
    [
        (datetime(2024, 3, 14, tzinfo=UTC), 7, False),  # before short-lived existed
        (datetime(2024, 3, 15, tzinfo=UTC), 10, True),
        (datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC), 10, True),
        (datetime(2026, 3, 15, tzinfo=UTC), 10, False),
        (datetime(2026, 3, 15, tzinfo=UTC), 7, True),
    ],
)
def test_short_lived_follows_the_br_calendar(issued: datetime, days: int, short: bool) -> None:
    assert br.is_short_lived(issued, br.not_after_for(issued, days)) is short


def test_a_profile_may_drop_crldp_and_ocsp_only_when_short_lived() -> None:
    text = builtin_profile_sources()["tls-dv-ecdsa-short.toml"].replace(
        "serial.\ninclude = true",
        "serial.\ninclude = false",
    )
    parsed = parse_profile(text, "short", version=1, today=TODAY)
    assert not parsed.crl_distribution_point and not parsed.aia_ocsp
    longer = text.replace("validity_days = 7", "validity_days = 8")
    with pytest.raises(ProfileError, match="short-lived"):
        parse_profile(longer, "longer", version=1, today=TODAY)


def test_profiles_from_the_acme_table() -> None:
    settings = parse_acme(
        {"profiles": {"tiny": {"ecdsa": "tls-dv-ecdsa-short", "rsa": "tls-dv-rsa-short"}}}, "t"
    )
    assert [p.name for p in settings.profiles] == ["tiny"]
    assert settings.profile("tiny") is not None
    assert settings.profile("classic") is None
    default = parse_acme({"ecdsa_profile": "mine"}, "t")
    classic = default.profile("classic")
    assert classic is not None and classic.ecdsa == "mine"
    assert default.profile("shortlived") is not None


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"profiles": {"Big": {"ecdsa": "a", "rsa": "b"}}}, "is not a profile name"),
        ({"profiles": {"x": {"ecdsa": "a"}}}, "rsa"),
        ({"profiles": {"x": "tls-dv-ecdsa"}}, "expected a table"),
        ({"profiles": {}}, "at least one profile"),
    ],
)
def test_bad_profile_tables_are_named(table: dict[str, object], problem: str) -> None:
    with pytest.raises(TomlProblem, match=problem):
        parse_acme(table, "t")
