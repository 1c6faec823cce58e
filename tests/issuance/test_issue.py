"""Issuance end to end: real keys, both linters, openssl verification, the stored record."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import InputError, IssuanceRefused
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.pem import chain_pem
from certkeeper.issuance.service import IssueRequest, LintRefused
from certkeeper.lint.engine import CertType, Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.profiles.schema import BasicConstraints, KeyUsage
from certkeeper.wiring import issuance_service, issuance_service_with, safety_hooks
from certkeeper.x509.tbs import CT_POISON, SCT_LIST, remove_extension
from factories import csr_pem

POISON = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")


def issue(
    ca: CaHome, names: list[str], profile: str = "tls-dv-ecdsa", kind: str = "ecdsa-p256", **kw: Any
):
    service = kw.pop("service", None) or issuance_service(ca)
    return service.issue(IssueRequest(load_csr(csr_pem(names, kind)), profile, **kw))


@pytest.mark.parametrize(
    ("profile", "kind"),
    [("tls-dv-ecdsa", "ecdsa-p256"), ("tls-dv-ecdsa", "ecdsa-p384"), ("tls-dv-rsa", "rsa-2048")],
)
def test_issued_chain_verifies_with_openssl_and_pkilint_finds_no_error(
    ca: CaHome, shared_home: Path, tmp_path: Path, profile: str, kind: str
) -> None:
    issued = issue(ca, ["www.example.com", "example.com"], profile, kind, subscriber_id="acme-corp")
    pem = tmp_path / "chain.pem"
    pem.write_text(chain_pem(issued))
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(shared_home / "certs/root.pem"),
            "-untrusted",
            str(pem),
            str(pem),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    linter = PkilintLinter()
    for der, ctype in (
        (issued.der, CertType.SUBSCRIBER),
        (issued.precertificate_der, CertType.PRECERTIFICATE),
    ):
        bad = [f for f in linter.lint_certificate(der, ctype) if f.severity >= Severity.ERROR]
        assert bad == [], bad


def test_certificate_matches_its_profile_and_record(ca: CaHome) -> None:
    issued = issue(ca, ["shop.example.org"], "tls-dv-rsa", "rsa-2048")
    cert = x509.load_der_x509_certificate(issued.der)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    record = ca.inventory.certificate(serial=issued.serial)
    assert record.sha256 == issued.sha256 and record.der == issued.der
    assert (record.profile_id, record.profile_version, record.cps_version) == (
        "tls-dv-rsa",
        1,
        "1.0",
    )
    assert record.names == ("shop.example.org",)
    assert format(cert.serial_number, "x") == issued.serial
    crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = crldp[0].full_name[0].value  # type: ignore[index]
    assert url == f"http://pki.example.com/crl/tls-rsa-1/{record.crl_shard}.crl"
    assert cert.serial_number % ca.config.crl_shards == record.crl_shard
    assert ca.inventory.serial_state(issued.serial) == "issued"


def test_ecdsa_certificate_has_no_key_encipherment(ca: CaHome) -> None:
    cert = x509.load_der_x509_certificate(issue(ca, ["ec.example.com"]).der)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment


def test_final_tbs_is_the_precertificate_tbs_without_poison(ca: CaHome) -> None:
    issued = issue(ca, ["ct.example.com"])
    pre = x509.load_der_x509_certificate(issued.precertificate_der)
    final = x509.load_der_x509_certificate(issued.der)
    poison = pre.extensions.get_extension_for_oid(POISON)
    assert poison.critical
    with pytest.raises(x509.ExtensionNotFound):
        final.extensions.get_extension_for_oid(POISON)
    assert remove_extension(pre.tbs_certificate_bytes, CT_POISON) == final.tbs_certificate_bytes
    assert pre.serial_number == final.serial_number


def sct() -> bytes:
    """A structurally valid v1 SCT (RFC 6962 3.2) signed by a made-up log key."""
    import os
    import struct

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = ec.generate_private_key(ec.SECP256R1()).sign(b"entry", ec.ECDSA(hashes.SHA256()))
    return (
        b"\x00"
        + os.urandom(32)
        + struct.pack(">Q", 1_790_000_000_000)
        + b"\x00\x00"
        + b"\x04\x03"
        + struct.pack(">H", len(signature))
        + signature
    )


def sct_list_of(*scts: bytes) -> bytes:
    import struct

    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    return struct.pack(">H", len(body)) + body


def test_scts_from_the_hook_are_embedded_and_nothing_else_changes(ca: CaHome) -> None:
    sct_list = sct_list_of(sct(), sct())
    hooks = safety_hooks(ca)
    service = issuance_service_with(
        ca, name_authorizer=hooks.names, key_checker=hooks.keys, sct_source=lambda pre: sct_list
    )
    issued = issue(ca, ["sct.example.com"], service=service)
    pre = x509.load_der_x509_certificate(issued.precertificate_der)
    final = x509.load_der_x509_certificate(issued.der)
    ext = final.extensions.get_extension_for_oid(x509.ObjectIdentifier(SCT_LIST))
    assert not ext.critical
    assert remove_extension(pre.tbs_certificate_bytes, CT_POISON) == remove_extension(
        final.tbs_certificate_bytes, SCT_LIST
    )


def test_serial_is_positive_long_and_random(ca: CaHome) -> None:
    serials = {int(issue(ca, [f"s{i}.example.com"]).serial, 16) for i in range(5)}
    assert len(serials) == 5
    for s in serials:
        assert 0 < s < 2**127 and s.bit_length() == 127  # 16 DER octets, >= 64 random bits


def test_san_restriction(ca: CaHome) -> None:
    service = issuance_service(ca)
    parsed = load_csr(csr_pem(["a.example.com", "b.example.com"]))
    issued = service.issue(IssueRequest(parsed, "tls-dv-ecdsa", names=("B.example.com",)))
    cert = x509.load_der_x509_certificate(issued.der)
    san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert san.get_values_for_type(x509.DNSName) == ["b.example.com"]
    with pytest.raises(InputError, match=r"c\.example\.com not in the CSR"):
        service.issue(IssueRequest(parsed, "tls-dv-ecdsa", names=("c.example.com",)))


@pytest.mark.parametrize(
    "name",
    [
        "bad_name.example.com",  # underscore
        "host.internal",  # internal name
        "www.ap.gbl",  # seed 002: TLD never delegated
        "www.*.example.com",  # misplaced wildcard
        "-lead.example.com",  # LDH violation
    ],
)
def test_bad_names_are_refused_before_the_real_key_signs(ca: CaHome, name: str) -> None:
    before = ca.inventory.count_precertificates(CertificateFilter())
    with pytest.raises(LintRefused) as info:
        issue(ca, [name])
    assert info.value.findings
    assert name in str(info.value) or any(name in f.message for f in info.value.findings)
    assert ca.inventory.count_precertificates(CertificateFilter()) == before


def test_an_ip_address_as_a_dns_name_is_refused_in_the_csr() -> None:
    """An IP address is requested as an iPAddress entry (RFC 8738), never as a dNSName."""
    with pytest.raises(InputError, match="is an IP address; request it as an iPAddress"):
        load_csr(csr_pem(["192.0.2.10"]))


def test_key_type_must_match_the_profile(ca: CaHome) -> None:
    with pytest.raises(
        IssuanceRefused, match="allows rsa-2048, rsa-3072, rsa-4096 keys; the CSR has a ecdsa-p256"
    ):
        issue(ca, ["x.example.com"], "tls-dv-rsa", "ecdsa-p256")


class CountingSigner:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def spec(self) -> Any:
        return self.inner.spec

    def public_key(self) -> object:
        return self.inner.public_key()

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self.inner.sign(data)


@pytest.mark.parametrize(
    "broken",
    [
        {"basic_constraints": BasicConstraints(include=True, critical=False)},  # seed 004
        {
            "key_usage": KeyUsage(critical=True, bits=("digital_signature", "key_encipherment"))
        },  # ECDSA + KE
    ],
)
def test_a_profile_forced_past_the_loader_is_stopped_by_the_gate(
    ca: CaHome, monkeypatch: pytest.MonkeyPatch, broken: dict[str, Any]
) -> None:
    good = ca.profiles.get("tls-dv-ecdsa")
    monkeypatch.setattr(ca.profiles, "get", lambda *a, **k: dataclasses.replace(good, **broken))
    issuer = ca.active_issuer("ecdsa-p256")
    counting = CountingSigner(ca.signer(issuer))
    monkeypatch.setattr(ca, "signer", lambda rec: counting)
    with pytest.raises(LintRefused) as info:
        issue(ca, ["gate.example.com"])
    assert counting.calls == 0, "the real key signed something"
    linters = {f.linter for f in info.value.findings}
    assert linters == {"certkeeper", "pkilint"}, info.value.findings  # both linters caught it
    assert ca.inventory.serial_state(info.value.serial) == "failed"


def test_waived_findings_let_issuance_proceed_and_are_stored(
    fresh_ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = fresh_ca.profiles.get("tls-dv-ecdsa")
    broken = dataclasses.replace(
        good, basic_constraints=BasicConstraints(include=True, critical=False)
    )
    monkeypatch.setattr(fresh_ca.profiles, "get", lambda *a, **k: broken)
    with pytest.raises(LintRefused) as info:
        issue(fresh_ca, ["w.example.com"])
    ids = sorted({f.lint_id for f in info.value.findings})
    config_path = fresh_ca.config.config_path
    waivers = "".join(
        f'\n[[waivers]]\nlint_id = "{i}"\n'
        'justification = "test of the waiver path, ticket 1"\nexpires = 2099-01-01\n'
        for i in ids
    )
    config_path.write_text(config_path.read_text() + waivers)
    reopened = CaHome.open(fresh_ca.config.home)
    monkeypatch.setattr(reopened.profiles, "get", lambda *a, **k: broken)
    issued = issue(reopened, ["w.example.com"])
    assert sorted({f.lint_id for f in issued.waived}) == ids
    stored = reopened.inventory.findings_for(issued.serial)
    waived = sorted({f.lint_id for f in stored if f.waived})
    assert waived == ids
    assert all(f.waiver_justification for f in stored if f.waived)
    reopened.close()


@pytest.mark.parametrize(
    "step",
    [
        "assign_serial",
        "lint_precertificate",
        "sign_ocsp",
        "sign_precertificate",
        "store_precertificate",
        "collect_scts",
        "lint_certificate",
        "sign_certificate",
        "store_certificate",
    ],
)
def test_a_crash_at_any_step_leaves_the_inventory_consistent(ca: CaHome, step: str) -> None:
    class Crash(Exception):
        pass

    def on_step(name: str) -> None:
        if name == step:
            raise Crash(name)

    flt = CertificateFilter()
    certs_before = ca.inventory.count_certificates(flt)
    with pytest.raises(Crash):
        issue(ca, ["crash.example.com"], service=issuance_service(ca, on_step=on_step))
    assert ca.inventory.count_certificates(flt) == certs_before
    # every precertificate has its serial record; no certificate lacks a precertificate
    orphans = [
        c
        for c in ca.inventory.list_certificates(flt)
        if ca.inventory.serial_state(c.serial) != "issued"
    ]
    assert orphans == []
