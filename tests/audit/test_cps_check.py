"""`cps render` and `cps check` on a real CA home with issued certificates: a CPS rendered
from the live profiles is clean; the seed 000 contradiction (CPS says keyEncipherment is
absent, RSA certificates assert it) is named with the right counts per profile version
and CPS version."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.config import CONFIG_NAME
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home

runner = CliRunner()


def _issue(home: Path, profile: str, kind: str, names: list[str]) -> None:
    ca = CaHome.open(home)
    try:
        service = issuance_service(ca)
        for name in names:
            service.issue(IssueRequest(load_csr(csr_pem([name], kind)), profile))
    finally:
        ca.close()


def _set_cps_version(home: Path, version: str) -> None:
    path = home / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(
        re.sub(r'(?m)^cps_version = ".*"$', f'cps_version = "{version}"', text), encoding="utf-8"
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """CPS 1.0: three RSA certificates under tls-dv-rsa v1 (keyEncipherment asserted) and
    one ECDSA. Then keyEncipherment is dropped (tls-dv-rsa v2) and CPS 1.1 issues two more."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    path = make_home(tmp_path_factory.mktemp("cps") / "home")
    _issue(path, "tls-dv-rsa", "rsa-2048", [f"r{i}.example.com" for i in range(3)])
    _issue(path, "tls-dv-ecdsa", "ecdsa-p256", ["e.example.com"])
    profile_file = path / "profiles" / "tls-dv-rsa.toml"
    text = profile_file.read_text(encoding="utf-8")
    profile_file.write_text(text.replace("key_encipherment = true", "key_encipherment = false"))
    ca = CaHome.open(path)
    ca.profiles.sync(datetime.now(UTC))
    ca.close()
    _set_cps_version(path, "1.1")
    _issue(path, "tls-dv-rsa", "rsa-3072", ["n1.example.com", "n2.example.com"])
    yield path
    mp.undo()


def _check(home: Path, cps: Path, *extra: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["cps", "check", str(cps), "--home", str(home), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout.splitlines()


def test_a_cps_rendered_from_the_live_profiles_reports_nothing(home: Path, tmp_path: Path) -> None:
    cps = tmp_path / "cps.md"
    rendered = runner.invoke(app, ["cps", "render", "--home", str(home), "--out", str(cps)])
    assert rendered.exit_code == 0, rendered.output
    text = cps.read_text(encoding="utf-8")
    assert "CPS version: 1.1" in text
    assert "`tls-dv-rsa` version 2 (RSA)" in text and "| keyEncipherment | MUST NOT |" in text
    assert _check(home, cps) == (0, [])
    # Every version, each part compared with its own version: still clean.
    every = tmp_path / "all.md"
    runner.invoke(
        app, ["cps", "render", "--home", str(home), "--all-versions", "--out", str(every)]
    )
    assert "`tls-dv-rsa` version 1 (RSA)" in every.read_text(encoding="utf-8")
    assert _check(home, every) == (0, [])
    assert _check(home, every, "--cps-version", "1.0") == (0, [])


def test_an_edited_rendered_cps_names_the_planted_contradiction(home: Path, tmp_path: Path) -> None:
    cps = tmp_path / "cps.md"
    runner.invoke(app, ["cps", "render", "--home", str(home), "--all-versions", "--out", str(cps)])
    text = cps.read_text(encoding="utf-8")
    part = text.index("`tls-dv-rsa` version 1 (RSA)")
    planted = text[:part] + text[part:].replace(
        "| keyEncipherment | MUST |", "| keyEncipherment | MUST NOT |", 1
    )
    assert planted != text
    cps.write_text(planted, encoding="utf-8")
    code, lines = _check(home, cps, "--cps-version", "1.0")
    assert code == 4
    assert lines == [
        'CPS §7.1.2.7 "tls-dv-rsa" RSA: keyEncipherment stated absent; profile tls-dv-rsa v1 '
        "includes it; 3 certificates issued under CPS 1.0 assert it"
    ]


HAND_WRITTEN = """# Example Trust Services CPS

CPS version 1.0

## 7.1.2.7 Subscriber Certificate Profiles

### tls-dv-rsa: RSA subscriber certificates

| Extension | Presence | Critical |
|---|---|---|
| Key Usage | MUST | Yes |
| Extended Key Usage | MUST | No |
| Subject Key Identifier | NOT RECOMMENDED | No |

| Key usage bit | Asserted |
|---|---|
| Digital Signature | yes |
| Key Encipherment | no |
| Data Encipherment | no |
"""


def test_a_hand_written_cps_gets_the_seed_000_line_with_counts(home: Path, tmp_path: Path) -> None:
    cps = tmp_path / "cps.md"
    cps.write_text(HAND_WRITTEN, encoding="utf-8")
    code, lines = _check(home, cps)
    assert code == 4
    assert _check(home, cps, "--workers", "2") == (code, lines)
    assert lines == [
        'CPS §7.1.2.7 "tls-dv-rsa" RSA: keyEncipherment stated absent; profile tls-dv-rsa v1 '
        "includes it; 3 certificates issued under CPS 1.0 assert it",
        'CPS: profile "tls-dv-ecdsa" (ECDSA) is not described; profile tls-dv-ecdsa v1 is '
        "in force; 1 certificate issued under CPS 1.0 uses it",
    ]
    # The same text checked as CPS 1.1: the v2 profile and its two certificates agree.
    code, lines = _check(home, cps, "--cps-version", "1.1")
    assert code == 4 and all("keyEncipherment" not in line for line in lines)
    assert lines == [
        'CPS: profile "tls-dv-ecdsa" (ECDSA) is not described; profile tls-dv-ecdsa v1 is in force',
        'CPS: profile "tls-dv-ecdsa-short" (ECDSA) is not described; profile '
        "tls-dv-ecdsa-short v1 is in force",
        'CPS: profile "tls-dv-rsa-short" (RSA) is not described; profile '
        "tls-dv-rsa-short v1 is in force",
    ]
    # Across every CPS version, each profile version gets its own line and counts.
    result = runner.invoke(
        app,
        ["cps", "check", str(cps), "--home", str(home), "--cps-version", "all", "--format", "json"],
    )
    body = json.loads(result.stdout)
    assert body["cps_version"] is None and body["certificates"] == 6
    found = {(c["claim"], c["profile"]): c["certificates"] for c in body["contradictions"]}
    assert found == {
        ("keyEncipherment stated absent", "tls-dv-rsa v1"): {"1.0": 3},
        ("profile not described", "tls-dv-ecdsa v1"): {"1.0": 1},
        ("profile not described", "tls-dv-ecdsa-short v1"): {},
        ("profile not described", "tls-dv-rsa-short v1"): {},
    }


def test_unreadable_and_unmapped_cps_files_are_one_line_errors(home: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["cps", "check", str(tmp_path / "no.md"), "--home", str(home)])
    assert missing.exit_code == 1 and "no.md: cannot read" in missing.output
    bad = tmp_path / "bad.md"
    bad.write_text("## tls-dv-rsa\n\n| Extension | Presence |\n|---|---|\n| keyUsage | often |\n")
    result = runner.invoke(app, ["cps", "check", str(bad), "--home", str(home)])
    assert result.exit_code == 1 and "line 5: cannot read presence 'often'" in result.output
    unrelated = tmp_path / "other.md"
    unrelated.write_text("# Policies\n\n| Field | Description |\n|---|---|\n| Name | x |\n")
    result = runner.invoke(app, ["cps", "check", str(unrelated), "--home", str(home)])
    assert (
        result.exit_code == 1 and "no table describes a known certificate profile" in result.output
    )
    assert "Traceback" not in result.output


def test_the_der_walk_reads_certificates_as_cryptography_does(home: Path) -> None:
    from certkeeper.audit.cps_check import _crypto_extensions, _walk_extensions
    from certkeeper.certificate_filter import CertificateFilter

    ca = CaHome.open(home)
    try:
        records = list(ca.inventory.list_certificates(CertificateFilter()))
    finally:
        ca.close()
    assert len(records) == 6
    for rec in records:
        walked = _walk_extensions(rec.der)
        assert walked is not None and walked == _crypto_extensions(rec.der)
    rsa_v1 = [r for r in records if r.profile_id == "tls-dv-rsa" and r.profile_version == 1]
    shape = _walk_extensions(rsa_v1[0].der)
    assert shape is not None and shape[1] == {"digitalSignature", "keyEncipherment"}
