"""The revocation CLI end to end, drills on a copy, and openssl reading what we publish."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.pem import der_to_pem
from certkeeper.issuance.service import IssueRequest
from certkeeper.revocation.drill import drill
from certkeeper.wiring import build, issuance_service
from factories import PASSPHRASE, csr_pem

runner = CliRunner()
ENV = {"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": "cli-test"}


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def issue(
    ca: CaHome, names: list[str], profile: str = "tls-dv-ecdsa", kind: str = "ecdsa-p256"
) -> list[str]:
    service = issuance_service(ca)
    return [
        service.issue(IssueRequest(load_csr(csr_pem([n], kind)), profile)).serial for n in names
    ]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_revoke_cli_then_openssl_sees_the_revocation_in_the_shard(
    fresh_ca: CaHome, tmp_path: Path
) -> None:
    (serial,) = issue(fresh_ca, ["cli-revoke.example.com"])
    home = str(fresh_ca.config.home)
    code, _, err = cli(
        "revoke", serial, "--reason", "keyCompromise", "--evidence", "key posted", "--home", home
    )
    assert code == 0, err
    assert "revoked (keyCompromise" in err and "1 CRL shard(s) republished" in err
    cert = fresh_ca.inventory.certificate(serial=serial)
    crl_file = fresh_ca.config.crl_dir / "tls-ecdsa-1" / f"{cert.crl_shard}.crl"
    assert crl_file.is_file()
    chain = tmp_path / "chain.pem"
    chain.write_text(
        der_to_pem(fresh_ca.inventory.issuer_by_name("root").cert_der)
        + der_to_pem(fresh_ca.inventory.issuer_by_name("tls-ecdsa-1").cert_der)
    )
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(der_to_pem(cert.der))
    crl_pem = tmp_path / "shard.pem"
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl_file), "-out", str(crl_pem)], check=True
    )
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-crl_check",
            "-CAfile",
            str(chain),
            "-CRLfile",
            str(crl_pem),
            str(leaf),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "certificate revoked" in (result.stdout + result.stderr)
    # bad input: one line, nothing revoked
    for args, expected in [
        (["revoke", serial, "--reason", "certificateHold"], "not allowed"),
        (["revoke", "--sha256", "zz", "--reason", "superseded"], "SHA-256"),
        (["revoke", "abcdef", "--reason", "superseded"], "never assigned"),
        (["revoke", "--reason", "superseded"], "exactly one"),
    ]:
        code, _, err = cli(*args, "--home", home)
        assert code == 1 and expected in err and "Traceback" not in err, err


def test_incident_cli_round_trip(fresh_ca: CaHome, tmp_path: Path) -> None:
    serials = issue(fresh_ca, [f"i{i}.example.com" for i in range(3)])
    home = str(fresh_ca.config.home)
    listing = tmp_path / "serials.txt"
    listing.write_text("# affected\n" + "\n".join(serials[:2]) + "\n\n")
    aware = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err = cli(
        "incident",
        "open",
        "--title",
        "wrong EKU",
        "--aware-at",
        aware,
        "--reason",
        "12",
        "--serials-file",
        str(listing),
        "--home",
        home,
    )
    assert code == 0, err
    assert out.startswith(
        "incident 1: 2 certificates affected (distinct by SHA-256), "
        "0 precertificates without a final certificate;"
    )
    code, out, err = cli("incident", "plan", "1", "--no-notify", "--home", home)
    assert code == 0 and "The plan meets the deadline" in out, err
    assert "2 of 2 certificates revoked by it" in out
    code, out, err = cli("incident", "execute", "1", "--home", home)
    assert code == 0 and "revoked 2" in out and "remaining 0 of 2 certificates" in out, err
    code, out, err = cli("incident", "status", "1", "--home", home, "--format", "json")
    assert code == 0 and '"revoked": 2' in out and '"reconciles": true' in out, err
    code, out, err = cli("incident", "scope", "1", "--home", home)
    assert code == 0 and "2 distinct certificates" in out


def test_garbage_lines_in_a_serials_file_are_reported_by_number(
    fresh_ca: CaHome, tmp_path: Path
) -> None:
    issue(fresh_ca, ["g.example.com"])
    listing = tmp_path / "serials.txt"
    listing.write_text("0abc\nnot-a-serial\n\n0xdef\nzz99\n")
    code, _, err = cli(
        "incident",
        "open",
        "--title",
        "t",
        "--aware-at",
        "2026-11-20T00:00:00Z",
        "--reason",
        "3",
        "--serials-file",
        str(listing),
        "--home",
        str(fresh_ca.config.home),
    )
    assert code == 1
    assert "2 line(s) are not a serial: line 2: 'not-a-serial'; line 5: 'zz99'" in err


def test_a_drill_leaves_the_live_inventory_untouched(fresh_ca: CaHome) -> None:
    issue(fresh_ca, [f"d{i}.example.com" for i in range(5)])
    fresh_ca.inventory.engine.dispose()
    before = tree_digest(fresh_ca.config.home)
    report = drill(
        fresh_ca.config,
        now=datetime.now(UTC),
        selector=CertificateFilter(profile_id="tls-dv-ecdsa"),
        build=build,
    )
    assert (report.certificates, report.precertificates, report.revoked) == (5, 0, 5)
    assert report.deadline_met and report.shards_published >= 1
    assert report.largest_shard_bytes > 0 and set(report.seconds) >= {
        "copy",
        "plan",
        "revoke",
        "publish",
    }
    fresh_ca.inventory.engine.dispose()
    assert tree_digest(fresh_ca.config.home) == before
    assert fresh_ca.inventory.count_certificates(CertificateFilter()) == 5


def test_subscriber_and_plan_options_are_checked(fresh_ca: CaHome) -> None:
    home = str(fresh_ca.config.home)
    code, _, err = cli("subscriber", "add", "shop", "--primary", "not-an-address", "--home", home)
    assert code == 1 and "--primary 'not-an-address' is not an email address" in err
    code, out, err = cli(
        "subscriber",
        "add",
        "shop",
        "--primary",
        "ops@shop.example",
        "--backup",
        "cto@shop.example",
        "--home",
        home,
    )
    assert code == 0 and "1 primary, 1 backup" in out, err
    code, out, _ = cli("subscriber", "show", "shop", "--home", home, "--format", "json")
    assert '"address": "ops@shop.example"' in out and '"kind": "backup"' in out
    code, _, err = cli("subscriber", "show", "nobody", "--home", home)
    assert code == 1 and "no contacts" in err
    issue(fresh_ca, ["p.example.com"])
    code, _, err = cli(
        "incident",
        "open",
        "--title",
        "t",
        "--aware-at",
        "2026-11-20T00:00:00Z",
        "--reason",
        "12",
        "--profile",
        "tls-dv-ecdsa",
        "--home",
        home,
    )
    assert code == 0, err
    code, _, err = cli("incident", "plan", "1", "--policy", "random", "--home", home)
    assert code == 1 and "--policy 'random': use one of soonest-expiry" in err
    code, _, err = cli("incident", "status", "99", "--home", home)
    assert code == 1 and "no incident 99" in err
