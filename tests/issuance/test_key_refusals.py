"""BR 6.1.1.3 on every non-ACME path: a key revoked for keyCompromise (single or by
campaign) or listed with `keys block` is never certified again, and weak keys are
refused with the rule named, before any serial is assigned."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from typer.testing import CliRunner

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.cli.main import app
from certkeeper.errors import EXIT_PARTIAL
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest, KeyRefused
from certkeeper.keys.spki import spki_sha256
from certkeeper.revocation.reasons import CrlReason
from certkeeper.store.blocked_keys import BlockedKeyStore
from certkeeper.store.tables import serials
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE
from keys.primes import fermat_pair, private_key

runner = CliRunner()


def csr_for(names: list[str], key: object) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    builder = builder.add_extension(
        x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
    )
    request = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return request.public_bytes(serialization.Encoding.PEM)


def issue(ca: CaHome, name: str, key: object, profile: str = "tls-dv-ecdsa") -> str:
    return issuance_service(ca).issue(IssueRequest(load_csr(csr_for([name], key)), profile)).serial


def serial_count(ca: CaHome) -> int:
    with ca.inventory.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(serials)).scalar_one())


@pytest.fixture
def cli_home(fresh_ca: CaHome) -> Iterator[Path]:
    yield fresh_ca.config.home


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"CERTKEEPER_PASSPHRASE": PASSPHRASE})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_a_key_revoked_for_key_compromise_is_never_certified_again(fresh_ca: CaHome) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    serial = issue(fresh_ca, "kc.example.com", key)
    wiring.build(fresh_ca).revocation.revoke(serial, CrlReason.keyCompromise, now=datetime.now(UTC))
    before = serial_count(fresh_ca)
    with pytest.raises(KeyRefused) as refused:
        issue(fresh_ca, "kc2.example.com", key)
    assert refused.value.rule == "blocked_key"
    assert f"serial {serial} revoked for keyCompromise" in str(refused.value)
    assert serial_count(fresh_ca) == before  # refused before a serial was assigned
    issue(fresh_ca, "kc2.example.com", ec.generate_private_key(ec.SECP256R1()))  # others pass


def test_changing_a_revocation_to_key_compromise_blocks_the_key(fresh_ca: CaHome) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    serial = issue(fresh_ca, "later.example.com", key)
    now = datetime.now(UTC)
    wiring.build(fresh_ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    issue(fresh_ca, "later.example.com", key)  # superseded alone blocks nothing
    wiring.build(fresh_ca).revocation.revoke(
        serial, CrlReason.keyCompromise, now=now + timedelta(seconds=1)
    )
    with pytest.raises(KeyRefused, match="blocked_key"):
        issue(fresh_ca, "later.example.com", key)


def test_a_key_compromise_campaign_blocks_every_key(fresh_ca: CaHome) -> None:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    for i, key in enumerate(keys):
        issue(fresh_ca, f"c{i}.campaign.example.com", key)
    now = datetime.now(UTC)
    opened = wiring.build(fresh_ca).incidents.open_incident(
        title="keys disclosed in a public repository",
        aware_at=now - timedelta(hours=1),
        br_item_number=3,
        selector=CertificateFilter(domain_suffix="campaign.example.com"),
        now=now,
    )
    assert opened.reason == CrlReason.keyCompromise
    wiring.build(fresh_ca).incidents.make_plan(opened.id, now)
    assert wiring.build(fresh_ca).incidents.execute(opened.id, now, workers=1).revoked == 3
    store = BlockedKeyStore(fresh_ca.inventory.engine)
    for key in keys:
        entry = store.get(spki_sha256(key.public_key()))
        assert entry is not None and entry.source == "revocation"
        assert entry.detail.startswith(f"incident {opened.id}: ")
    with pytest.raises(KeyRefused, match="blocked_key"):
        issue(fresh_ca, "c0.campaign.example.com", keys[0])


def test_keys_block_file_then_issue_is_refused(cli_home: Path, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_for(["listed.example.com"], key))
    listing = tmp_path / "compromised.txt"
    listing.write_bytes(csr.read_bytes() + b"\n" + b"cd" * 32 + b"\n")
    code, err = run("keys", "block", "--file", str(listing), "--home", str(cli_home))
    assert code == 0, err
    assert "blocked 2 new key(s)" in err
    code, err = run("keys", "block", "--file", str(listing), "--home", str(cli_home))
    assert "blocked 0 new key(s); 2 of 2 were already blocked" in err
    code, err = run(
        "issue", "--home", str(cli_home), "--csr", str(csr), "--profile", "tls-dv-ecdsa"
    )
    assert code == 3
    assert err.startswith("error: key refused (blocked_key): the key (SPKI SHA-256 ")
    assert "operator: compromised.txt" in err

    bad = tmp_path / "bad.txt"
    bad.write_text("not a key\n")
    code, err = run("keys", "block", "--file", str(bad), "--home", str(cli_home))
    assert code == 1 and err.startswith(f"error: {bad}: line 1: 'not a key' is neither")


def test_weak_keys_are_refused_on_the_single_and_batch_paths(
    cli_home: Path, tmp_path: Path
) -> None:
    p, q = fermat_pair(1024, 2**300, random.Random(5))
    weak_csr = tmp_path / "batch" / "weak.csr"
    weak_csr.parent.mkdir()
    weak_csr.write_bytes(csr_for(["weak.example.com"], private_key(p, q)))
    code, err = run(
        "issue", "--home", str(cli_home), "--csr", str(weak_csr), "--profile", "tls-dv-rsa"
    )
    assert code == 3
    assert err.startswith("error: key refused (rsa_fermat_factorable): RSA modulus factors")

    good = tmp_path / "batch" / "good.csr"
    from factories import key as cached_key

    good.write_bytes(csr_for(["good.example.com"], cached_key("rsa-2048")))
    code, err = run(
        "issue", "--home", str(cli_home), "--batch", str(weak_csr.parent),
        "--profile", "tls-dv-rsa", "--workers", "1",
    )  # fmt: skip
    assert code == EXIT_PARTIAL
    assert "issued 1, failed 1" in err
    assert "failed: weak.csr: key refused (rsa_fermat_factorable)" in " ".join(err.split())
