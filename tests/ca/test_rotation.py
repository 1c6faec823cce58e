"""Warm-standby issuing CAs and rotation: a new CA is linted before it is signed, starts
as standby, takes over issuance when activated, and the retired CA keeps its status
services (OCSP re-signing on revocation, CRL shards) for the certificates it issued."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from certkeeper import wiring
from certkeeper.ca import rotation
from certkeeper.ca.home import CaHome
from certkeeper.errors import InputError
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.lint.engine import CertType, Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.revocation.reasons import CrlReason
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    home = CaHome.open(make_home(tmp_path / "home", crl_shards=2))
    yield home
    home.close()


def issue(ca: CaHome, name: str) -> x509.Certificate:
    issued = issuance_service(ca).issue(IssueRequest(load_csr(csr_pem([name])), "tls-dv-ecdsa"))
    return x509.load_der_x509_certificate(issued.der)


def test_standby_ca_is_valid_linted_and_unused_until_activated(ca: CaHome, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    made = rotation.add_issuing_ca(ca, "tls-ecdsa-2", "ecdsa-p256", now)
    assert made.issuing.state == "standby" and made.responder.parent_id == made.issuing.id
    home = ca.config.home
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(home / "certs/root.pem"),
            str(home / "certs/tls-ecdsa-2.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    linter = PkilintLinter()
    for rec, ctype in (
        (made.issuing, CertType.SUBORDINATE_CA),
        (made.responder, CertType.OCSP_RESPONDER),
    ):
        errors = [
            f for f in linter.lint_certificate(rec.cert_der, ctype) if f.severity >= Severity.ERROR
        ]
        assert errors == [], errors
    # standby: issuance still uses the first CA
    cert = issue(ca, "before.example.com")
    assert cert.issuer == ca.issuer_certificate(ca.inventory.issuer_by_name("tls-ecdsa-1")).subject


def test_activation_moves_issuance_and_retired_ca_keeps_status(ca: CaHome, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old_cert = issue(ca, "old.example.com")
    rotation.add_issuing_ca(ca, "tls-ecdsa-2", "ecdsa-p256", now, common_name="Example TLS E2")
    active, retired = rotation.activate(ca, "tls-ecdsa-2", now)
    assert active.state == "active" and [r.name for r in retired] == ["tls-ecdsa-1"]
    states = {r.name: r.state for r in ca.inventory.issuers()}
    assert states["tls-ecdsa-1"] == "retired" and states["tls-ecdsa-2"] == "active"
    assert states["tls-rsa-1"] == "active"  # other key types are untouched

    new_cert = issue(ca, "new.example.com")
    assert "CN=Example TLS E2" in new_cert.issuer.rfc4514_string()
    # the new certificate's CRLDP and AIA name the new CA
    crldp = new_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert "tls-ecdsa-2" in crldp[0].full_name[0].value  # type: ignore[index]

    # a certificate of the retired CA is still revocable, and its OCSP answer says so,
    # signed by the retired CA's responder
    serial = format(old_cert.serial_number, "x")
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=datetime.now(UTC))
    record = OcspStore(ca.inventory.engine).get(serial)
    assert record is not None
    response = ocsp.load_der_ocsp_response(record.der)
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert (
        response.certificates[0].issuer
        == ca.issuer_certificate(ca.inventory.issuer_by_name("tls-ecdsa-1")).subject
    )

    # CRLs are published for both: the retired CA's shards carry its revocation
    report = wiring.build(ca).crl.publish(tmp_path / "crl", datetime.now(UTC))
    published = {(r.issuer, r.shard) for r in report.published}
    assert {("tls-ecdsa-1", 0), ("tls-ecdsa-1", 1), ("tls-ecdsa-2", 0)} <= published
    old_shard = next(r for r in report.published if r.issuer == "tls-ecdsa-1" and r.entries == 1)
    assert old_shard.kind == "shard"


def test_activation_refusals_are_named(ca: CaHome) -> None:
    now = datetime.now(UTC)
    with pytest.raises(InputError, match="already active"):
        rotation.activate(ca, "tls-ecdsa-1", now)
    with pytest.raises(InputError, match="only issuing CAs"):
        rotation.activate(ca, "root", now)
    with pytest.raises(InputError, match="already exists"):
        rotation.add_issuing_ca(ca, "tls-ecdsa-1", "ecdsa-p256", now)
    with pytest.raises(InputError, match="lower-case letters"):
        rotation.add_issuing_ca(ca, "Bad/Name", "ecdsa-p256", now)
    with pytest.raises(InputError, match="choose one of"):
        rotation.add_issuing_ca(ca, "tls-ed-1", "ed25519", now)


def test_responder_rotation_is_picked_up(ca: CaHome) -> None:
    now = datetime.now(UTC)
    added = rotation.add_responder(ca, "tls-ecdsa-1", now)
    assert added.name == "ocsp-tls-ecdsa-1-1" and added.role == "responder"
    with pytest.raises(InputError, match="responders belong to issuing CAs"):
        rotation.add_responder(ca, "root", now)


def test_cli_add_issuer_activate_and_list(ca: CaHome) -> None:
    home = str(ca.config.home)
    ca.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "certkeeper", "ca", *args, "--home", home],
            capture_output=True,
            text=True,
            check=False,
        )

    added = run("add-issuer", "tls-rsa-2", "--key-type", "rsa-2048", "--activate")
    assert added.returncode == 0, added.stderr
    assert "tls-rsa-2 is active; retired: tls-rsa-1" in added.stderr
    listed = run("list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    import json

    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["tls-rsa-2"]["state"] == "active" and rows["tls-rsa-1"]["state"] == "retired"
    assert rows["ocsp-tls-rsa-2-1"]["parent"] == "tls-rsa-2"
    bad = run("activate", "nope")
    assert bad.returncode != 0 and "no issuer named 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr
