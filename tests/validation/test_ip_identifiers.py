"""IP address identifiers (RFC 8738) below ACME: canonical text, BR 7.1.2.7.12 reserved
addresses, the BR 3.2.2.5 methods by date, the profile switch and the issuance refusal."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.ca.home import CaHome
from certkeeper.ca.profile_registry import builtin_profile_sources
from certkeeper.errors import IssuanceRefused
from certkeeper.issuance.csr import ParsedCsr, load_csr
from certkeeper.issuance.service import IssueRequest, LintRefused
from certkeeper.profiles.schema import parse_profile
from certkeeper.validation import methods
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.ip_identifiers import reverse_name
from certkeeper.validation.preflight import check_identifier
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, make_home

NOW = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("8.8.8.8", "8.8.8.8"),
        ("2001:4860:4860:0:0:0:0:8888", "2001:4860:4860::8888"),  # RFC 5952 form
        ("2001:4860:4860::8888", "2001:4860:4860::8888"),
    ],
)
def test_public_addresses_pass_in_canonical_form(value: str, canonical: str) -> None:
    assert check_identifier(value, wildcard=False, at=NOW) == canonical


@pytest.mark.parametrize(
    "value", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "fe80::1", "192.0.2.7", "224.0.0.1"]
)
def test_reserved_addresses_are_refused(value: str) -> None:
    with pytest.raises(RejectedIdentifier, match=r"reserved.*BR 7\.1\.2\.7\.12"):
        check_identifier(value, wildcard=False, at=NOW)


def test_private_addresses_setting_lets_loopback_through_for_tests() -> None:
    assert check_identifier("127.0.0.1", wildcard=False, at=NOW, private_addresses=True)
    with pytest.raises(RejectedIdentifier, match="reserved"):  # multicast is never private
        check_identifier("224.0.0.1", wildcard=False, at=NOW, private_addresses=True)


def test_an_ip_address_has_no_wildcard() -> None:
    for value, wildcard in (("*.8.8.8.8", True), ("8.8.8.8", True)):
        with pytest.raises(RejectedIdentifier, match="no wildcard form"):
            check_identifier(value, wildcard=wildcard, at=NOW)


def test_ip_methods_are_http01_and_tls_alpn01_from_sc067() -> None:
    assert methods.challenge_types_in_force(NOW, wildcard=False, ip=True) == [
        "http-01",
        "tls-alpn-01",
    ]
    before = datetime(2024, 9, 5, tzinfo=UTC)
    assert methods.challenge_types_in_force(before, wildcard=False, ip=True) == []
    assert methods.method_for_challenge("dns-01", NOW, ip=True) is None
    http = methods.method_for_challenge("http-01", NOW, ip=True)
    assert http is not None and http.section == "3.2.2.5.6"
    assert "dns-01" in methods.challenge_types_in_force(NOW, wildcard=False)  # names unchanged


def test_reverse_names_for_tls_alpn01_sni() -> None:
    assert reverse_name("192.0.2.5") == "5.2.0.192.in-addr.arpa"
    assert reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")
    assert reverse_name("2001:db8::1").startswith("1.0.0.0.")


def test_profiles_allow_ip_addresses_only_when_they_say_so() -> None:
    sources = builtin_profile_sources()
    for name, text in sources.items():
        assert not parse_profile(text, name, version=1, today=NOW.date()).san.allow_ip_addresses, (
            name
        )
    text = sources["tls-dv-ecdsa.toml"] + "allow_ip_addresses = true\n"
    assert parse_profile(text, "ip", version=1, today=NOW.date()).san.allow_ip_addresses


def ip_csr(*addresses: str) -> ParsedCsr:
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(san, False)
        .sign(key, hashes.SHA256())
    )
    return load_csr(csr.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    """A non-public home (no domain validation at issuance) with an IP profile."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    opened = CaHome.open(make_home(tmp_path / "home"))
    text = builtin_profile_sources()["tls-dv-ecdsa.toml"].replace(
        'id = "tls-dv-ecdsa"', 'id = "tls-ip"'
    )
    (opened.profiles.profile_dir / "tls-ip.toml").write_text(text + "allow_ip_addresses = true\n")
    opened.profiles.sync(datetime.now(UTC), "test-operator")
    yield opened
    opened.close()


def test_issuance_refuses_an_ip_address_the_profile_does_not_allow(home: CaHome) -> None:
    parsed = ip_csr("8.8.8.8")
    assert parsed.names == ("8.8.8.8",)
    with pytest.raises(IssuanceRefused, match="allows no IP addresses"):
        issuance_service(home).issue(IssueRequest(parsed, "tls-dv-ecdsa"))


def test_public_ip_addresses_issue_as_ip_sans_that_pass_both_linters(home: CaHome) -> None:
    issued = issuance_service(home).issue(
        IssueRequest(ip_csr("8.8.8.8", "2001:4860:4860::8888"), "tls-ip")
    )
    cert = x509.load_der_x509_certificate(issued.der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [
        "8.8.8.8",
        "2001:4860:4860::8888",
    ]
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["8.8.8.8"]  # BR 7.1.2.7.2: a copy of a SAN entry
    assert not issued.waived


def test_the_lints_refuse_a_reserved_ip_address(home: CaHome) -> None:
    with pytest.raises(LintRefused) as refused:
        issuance_service(home).issue(IssueRequest(ip_csr("10.0.0.1"), "tls-ip"))
    assert "e_san_ip_address_invalid" in {f.lint_id for f in refused.value.findings}
