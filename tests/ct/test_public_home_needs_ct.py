"""A public home signs no final certificate without compliant SCTs, on any path: without
a `[ct]` log list it issues nothing (CLI and ACME refuse up front), and a library caller
who hands the service another SCT source still gets a waiting precertificate, because
the service checks the SCTs against the log list and the CT policy itself."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.ct.compliance import CtNotConfigured
from certkeeper.ct.sct import decode_sct_list, encode_sct_list
from certkeeper.ct.testlog import TestLog
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import (
    IssuanceService,
    IssueRequest,
    SctSource,
    SctsPending,
    no_scts,
)
from certkeeper.store.tables import serials
from certkeeper.wiring import issuance_service_with, key_checker, sct_source
from factories import PASSPHRASE, csr_pem, make_home
from public_ct import PublicCt

CERTKEEPER = Path(sys.executable).parent / "certkeeper"
DER = Encoding.DER


def everything_validated(names: Sequence[str]) -> None:
    """A name authorizer that allows all names: these tests are about CT alone."""


@pytest.fixture
def public_home(
    tmp_path: Path, public_ct: PublicCt, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    ca = CaHome.open(make_home(tmp_path / "home", public_ct, public=True))
    yield ca
    ca.close()


def service(ca: CaHome, source: SctSource) -> IssuanceService:
    return issuance_service_with(
        ca, name_authorizer=everything_validated, key_checker=key_checker(ca), sct_source=source
    )


def request(name: str) -> IssueRequest:
    return IssueRequest(load_csr(csr_pem([name])), "tls-dv-ecdsa")


def test_without_a_log_list_a_public_home_issues_nothing(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", public=True)
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_pem(["www.example.com"]))
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    args = ["issue", "--csr", str(csr), "--profile", "tls-dv-ecdsa", "--home", str(home)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 3, result.output
    assert "names no CT log list; set [ct] log_list" in " ".join(result.stderr.split())
    ca = CaHome.open(home)
    try:
        with ca.inventory.engine.connect() as conn:
            assert conn.execute(serials.select()).all() == []  # nothing was signed
        with pytest.raises(CtNotConfigured):
            service(ca, no_scts)  # nor through the library
        with pytest.raises(CtNotConfigured):
            sct_source(ca)
    finally:
        ca.close()
    # the ACME server says so at start, not at the first finalize
    served = subprocess.run(
        [str(CERTKEEPER), "serve", "acme", "--home", str(home), "--port", "1"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 3, served.stderr
    assert "names no CT log list" in " ".join(served.stderr.split())


def test_with_the_wired_source_a_public_home_embeds_scts(public_home: CaHome) -> None:
    ca = public_home
    done = service(ca, sct_source(ca)).issue(request("ct-public.example.com"))
    cert = x509.load_der_x509_certificate(done.der)
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert len(list(scts.value)) == 2


def test_a_source_without_scts_leaves_the_precertificate_waiting(public_home: CaHome) -> None:
    with pytest.raises(SctsPending, match="no SCTs: a public home embeds SCTs") as info:
        service(public_home, no_scts).issue(request("no-scts.example.com"))
    assert public_home.inventory.serial_state(info.value.serial) == "precertificate"


def test_scts_from_a_log_outside_the_list_are_not_embedded(public_home: CaHome) -> None:
    root = x509.load_pem_x509_certificate((public_home.config.home / "certs/root.pem").read_bytes())
    rogues = [TestLog(ec.generate_private_key(ec.SECP256R1()), [root.public_bytes(DER)])] * 2
    issuer = public_home.active_issuer("ecdsa-p256")

    def rogue_scts(precertificate_der: bytes) -> bytes:
        chain = [precertificate_der, issuer.cert_der, root.public_bytes(DER)]
        return encode_sct_list([log.add_chain(chain, precert=True) for log in rogues])

    with pytest.raises(SctsPending, match="which the log list does not hold") as info:
        service(public_home, rogue_scts).issue(request("rogue-log.example.com"))
    assert public_home.inventory.serial_state(info.value.serial) == "precertificate"


def test_one_operator_is_not_enough(public_home: CaHome, public_ct: PublicCt) -> None:
    wired = sct_source(public_home)

    def first_only(precertificate_der: bytes) -> bytes:
        full = wired(precertificate_der)
        assert full is not None
        return encode_sct_list(decode_sct_list(full)[:1])

    with pytest.raises(SctsPending, match="needs 2 SCTs from distinct logs") as info:
        service(public_home, first_only).issue(request("one-log.example.com"))
    assert public_home.inventory.serial_state(info.value.serial) == "precertificate"
