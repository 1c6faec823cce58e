"""CA keys in a PKCS#11 token: a real SoftHSM2 token, real signatures, openssl verifies.

The keys are generated inside the token and never leave it; everything the file signer
does (the hierarchy, issuance, OCSP, CRLs, forked batch workers) works the same way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st
from pkcs11 import Attribute, ObjectClass

from certkeeper.ca.home import CaHome
from certkeeper.errors import ConfigError
from certkeeper.issuance.batch import issue_batch
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.pem import chain_pem
from certkeeper.issuance.service import IssueRequest
from certkeeper.signing.pkcs11 import KeyUri
from certkeeper.wiring import build, issuance_service
from factories import PASSPHRASE, csr_pem, make_home

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = PASSPHRASE
pytestmark = pytest.mark.skipif(
    not MODULE.is_file() or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (Debian package softhsm2; scripts/setup.sh installs it)",
)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A token directory of this test process. SoftHSM2 reads its config when the module
    is first initialised, so the variable is set before any test here loads it."""
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield root
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def new_token(label: str) -> str:
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            "so-" + PIN,
        ],
        check=True,
        capture_output=True,
    )
    return label


@pytest.fixture
def hsm_home(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    token = new_token(f"t-{request.node.name}"[:32])
    return make_home(tmp_path / "home", pkcs11_module=str(MODULE), pkcs11_token=token)


def openssl_verify(home: Path, chain: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(home / "certs/root.pem"),
            "-untrusted",
            str(chain),
            str(chain),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_hierarchy_keys_live_in_the_token_and_cannot_leave_it(hsm_home: Path) -> None:
    assert list((hsm_home / "keys").iterdir()) == []  # no key file anywhere
    ca = CaHome.open(hsm_home)
    try:
        issuers = ca.inventory.issuers()
        assert len(issuers) == 5
        lib = pkcs11.lib(str(MODULE))
        for issuer in issuers:
            # the token key signed the certificate that names it
            cert = ca.issuer_certificate(issuer)
            assert ca.signer(issuer).public_key() == cert.public_key()
            uri = KeyUri.parse(issuer.key_ref)
            assert uri.label == f"certkeeper-{issuer.name}"
            token = lib.get_token(token_label=uri.token)
            with token.open() as session:  # shares the signer's login (one per process)
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=uri.key_id)
                assert key[Attribute.SENSITIVE] is True
                assert key[Attribute.EXTRACTABLE] is False
                assert key[Attribute.NEVER_EXTRACTABLE] is True
    finally:
        ca.close()


@pytest.mark.parametrize(
    ("profile", "kind"), [("tls-dv-ecdsa", "ecdsa-p256"), ("tls-dv-rsa", "rsa-2048")]
)
def test_issuance_with_token_keys_verifies_with_openssl(
    hsm_home: Path, tmp_path: Path, profile: str, kind: str
) -> None:
    ca = CaHome.open(hsm_home)
    try:
        issued = issuance_service(ca).issue(
            IssueRequest(load_csr(csr_pem(["hsm.example.com"], kind)), profile)
        )
    finally:
        ca.close()
    chain = tmp_path / "chain.pem"
    chain.write_text(chain_pem(issued))
    result = openssl_verify(hsm_home, chain)
    assert result.returncode == 0, result.stdout + result.stderr
    cert = x509.load_der_x509_certificate(issued.der)
    assert (
        x509.DNSName("hsm.example.com")
        in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )


def test_forked_batch_workers_sign_with_the_token(hsm_home: Path, tmp_path: Path) -> None:
    csrs = tmp_path / "csrs"
    csrs.mkdir()
    for i in range(4):
        (csrs / f"{i}.csr").write_bytes(csr_pem([f"batch{i}.example.com"]))
    ca = CaHome.open(hsm_home)
    ca.signer(ca.active_issuer("ecdsa-p256"))  # the parent has a session before forking
    report = issue_batch(
        build(ca), csrs, "tls-dv-ecdsa", None, tmp_path / "out", workers=2, build=build
    )
    assert report.failed == [] and len(report.issued) == 4
    for pem in sorted((tmp_path / "out").glob("*.pem")):
        result = openssl_verify(hsm_home, pem)
        assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_pin_is_one_clear_error(hsm_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", "not the pin")
    ca = CaHome.open(hsm_home)
    with pytest.raises(ConfigError, match="wrong PIN"):
        ca.signer(ca.active_issuer("ecdsa-p256"))
    ca.close()


def test_missing_token_or_module_is_one_clear_error(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    with pytest.raises(ConfigError, match="no PKCS#11 token labelled 'absent'"):
        make_home(tmp_path / "a", pkcs11_module=str(MODULE), pkcs11_token="absent")
    with pytest.raises(ConfigError, match="does not exist"):
        make_home(tmp_path / "b", pkcs11_module=str(tmp_path / "nope.so"), pkcs11_token="x")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_config_must_name_the_token_its_keys_are_in(hsm_home: Path) -> None:
    config = hsm_home / "certkeeper.toml"
    text = config.read_text()
    config.write_text(text.replace("pkcs11_token = ", 'pkcs11_token = "other"\n# was '))
    ca = CaHome.open(hsm_home)
    with pytest.raises(ConfigError, match="pkcs11_token is 'other'"):
        ca.signer(ca.active_issuer("ecdsa-p256"))
    ca.close()


def test_cli_init_with_pkcs11(softhsm: Path, tmp_path: Path) -> None:
    token = new_token("cli-token")
    env = dict(os.environ, CERTKEEPER_PASSPHRASE=PASSPHRASE)
    home = tmp_path / "cli-home"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "init",
            "--home",
            str(home),
            "--pkcs11-module",
            str(MODULE),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode != 0 and "go together" in bad.stderr and "Traceback" not in bad.stderr
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "init",
            "--home",
            str(home),
            "--pkcs11-module",
            str(MODULE),
            "--pkcs11-token",
            token,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert 'pkcs11_token = "cli-token"' in (home / "certkeeper.toml").read_text()


labels = st.text(min_size=1, max_size=40)


@given(token=labels, label=labels, key_id=st.binary(min_size=1, max_size=32))
def test_key_uri_round_trips(token: str, label: str, key_id: bytes) -> None:
    uri = KeyUri(token, label, key_id)
    text = str(uri)
    assert text.startswith("pkcs11:") and ";" not in text[7:].replace(";object=", "").replace(
        ";id=", ""
    )
    assert KeyUri.parse(text) == uri


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file:/x", "is not a pkcs11: URI"),
        ("pkcs11:token=a;object=b", "lacks id"),
        ("pkcs11:token=a;token=b;object=c;id=%01", "bad attribute"),
        ("pkcs11:token=%ff;object=b;id=%01", "UTF-8"),
    ],
)
def test_malformed_key_uri_is_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        KeyUri.parse(text)


def test_ec_point_is_read_wrapped_or_bare_by_its_length() -> None:
    """CKA_EC_POINT comes DER-wrapped from SoftHSM2 and bare from some HSMs; a bare point
    whose third octet happens to be 0x04 must not be mistaken for a wrapped one."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from pkcs11 import KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    from certkeeper.signing.pkcs11 import _public_key

    while True:
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        if point[2] == 0x04:  # what a wrapped point has at that offset
            break
    params = encode_named_curve_parameters("1.2.840.10045.3.1.7")
    for stored in (bytes((0x04, len(point))) + point, point):
        attrs = {Attribute.EC_PARAMS: params, Attribute.EC_POINT: stored}
        assert _public_key(attrs, KeyType.EC) == key
