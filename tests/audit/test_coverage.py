"""`certkeeper audit coverage` against our real responder, and against responders made
to misbehave in each way the audit must catch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.status_audit_helpers import (
    GOOD,
    UNKNOWN,
    HandMade,
    OverridingResponder,
    World,
    build_world,
    free_port,
    invoke,
    run_cli,
    serve_in_thread,
    serve_subprocess,
    status_app,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("coverage"))


@pytest.fixture(scope="module")
def ours(world: World) -> Iterator[str]:
    """`certkeeper serve` (granian) over the world's home."""
    with serve_subprocess(world.home) as url:
        yield url


@pytest.fixture(scope="module")
def forge(world: World) -> HandMade:
    return HandMade(world.home)


def audit(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = invoke("audit", "coverage", "--format", "json", "--workers", "1", *args)
    assert code in (0, 4), err
    return code, json.loads(out)


def kinds(report: dict[str, Any]) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for f in report["findings"]:
        out.setdefault(f["kind"], set()).add(f["serial"])
    return out


def test_clean_audit_of_our_ca_passes(world: World, ours: str) -> None:
    code, report = audit("--home", str(world.home), "--ocsp", ours + "/ocsp", "--probes", "20")
    assert report["findings"] == [], report["findings"]
    assert code == 0
    summary = report["summary"]
    assert summary["serials"] == len(world.issued) + 1  # and the unused serial
    assert summary["ocsp_answers"] == {
        "good": len(world.issued) - 2,
        "revoked": 2,
        "unauthorized": 1 + 2 * 20,  # the unused serial and the probes of both CAs
    }
    assert summary["crl_entries"] == 2
    assert summary["lint_full_runs"] >= 1


def test_clean_audit_of_another_ca_from_its_certificates_and_a_crl_mirror(
    world: World, ours: str
) -> None:
    """Foreign mode: OCSP URL given, CRL shards fetched from a mirror of their CRLDPs,
    certificates read from a directory of DER files, precertificates from PEM and DER."""
    for certs in (world.cert_files, world.precert_files):
        code, report = audit(
            "--certs",
            str(certs),
            "--issuer",
            str(world.issuer_file),
            "--ocsp",
            ours + "/ocsp",
            "--crl",
            ours,
            "--probes",
            "10",
        )
        assert code == 0, report["findings"]
        assert report["summary"]["serials"] == len(world.issued)
        assert report["summary"]["crl_entries"] == 2


def test_unknown_for_issued_serials_is_caught(world: World, forge: HandMade) -> None:
    """Seed 003: precertificates logged to CT that the responder did not know."""
    forgotten = {int(s, 16) for s in world.issued[2:4]}
    app = OverridingResponder(
        status_app(world.home),
        lambda serial: forge.response(serial, status=UNKNOWN) if serial in forgotten else None,
    )
    with serve_in_thread(app) as url:
        code, report = audit("--home", str(world.home), "--ocsp", url + "/ocsp", "--probes", "3")
        assert code == 4
        assert kinds(report) == {"unknown": set(world.issued[2:4])}
        # the same from the precertificates alone, as a monitor of CT logs would run it
        code, report = audit(
            "--certs",
            str(world.precert_files),
            "--issuer",
            str(world.issuer_file),
            "--ocsp",
            url + "/ocsp",
            "--no-crl",
            "--probes",
            "0",
        )
        assert code == 4
        assert kinds(report) == {"unknown": set(world.issued[2:4])}


def test_fractional_seconds_are_caught_by_the_lints(world: World, forge: HandMade) -> None:
    """Seed 001: a responder emitting GeneralizedTime with fractional seconds."""
    target = int(world.issued[4], 16)
    app = OverridingResponder(
        status_app(world.home),
        lambda serial: forge.response(serial, fraction=".5") if serial == target else None,
    )
    with serve_in_thread(app) as url:
        code, report = audit("--home", str(world.home), "--ocsp", url + "/ocsp", "--probes", "0")
    assert code == 4
    assert kinds(report) == {"ocsp-lint": {world.issued[4]}}
    (finding,) = report["findings"]
    assert "e_ocsp_time_fractional_seconds" in finding["detail"]


def test_revoked_entry_missing_from_its_shard_is_caught(world: World, ours: str) -> None:
    """The CRLs published before the revocations lack both revoked serials."""
    code, report = audit(
        "--home",
        str(world.home),
        "--ocsp",
        ours + "/ocsp",
        "--crl",
        str(world.crl_before),
        "--probes",
        "0",
    )
    assert code == 4
    assert kinds(report) == {"revoked-but-missing-from-crl": set(world.revoked)}


def test_a_shard_that_cannot_be_loaded_is_reported(world: World, ours: str, tmp_path: Path) -> None:
    crl_dir = tmp_path / "crl"
    shutil.copytree(world.home / "crl", crl_dir)
    victim = next(crl_dir.rglob("*.crl"))
    victim.write_bytes(victim.read_bytes()[:-10])  # truncated: neither parses nor verifies
    code, report = audit(
        "--home", str(world.home), "--ocsp", ours + "/ocsp", "--crl", str(crl_dir), "--probes", "0"
    )
    assert code == 4
    assert "crl-invalid" in kinds(report)


def test_good_for_revoked_and_for_never_assigned_serials_is_caught(
    world: World, forge: HandMade
) -> None:
    """A responder that says "good" to everything (openssl ocsp without an index would):
    the revoked serials disagree with the CRL and the inventory, the unused serial and
    every probe must not be good (BR 4.9.10)."""
    app = OverridingResponder(status_app(world.home), lambda serial: forge.response(serial))
    with serve_in_thread(app) as url:
        code, report = audit("--home", str(world.home), "--ocsp", url + "/ocsp", "--probes", "4")
    assert code == 4
    found = kinds(report)
    assert found["status-mismatch"] == set(world.revoked)
    assert found["unused-good"] == {world.unused}
    # the forged responses carry the ECDSA CA's CertID: good for its 4 probes, and for
    # the RSA CA's 4 probes an answer about another certificate altogether
    assert len(found["unassigned-good"]) == 4
    assert len(found["ocsp-wrong-certid"]) == 4
    assert not set(found["unassigned-good"]) & set(world.issued)
    detail = next(f["detail"] for f in report["findings"] if f["kind"] == "status-mismatch")
    assert "good in OCSP" in detail


def test_transport_errors_are_findings_and_failures_are_retried(
    world: World, forge: HandMade
) -> None:
    # a responder that answers 503 on the first attempt for one serial: retried, clean
    flaky = int(world.issued[5], 16)
    seen: set[int] = set()

    def decide(serial: int) -> int | None:
        if serial == flaky and serial not in seen:
            seen.add(serial)
            return 503
        return None

    with serve_in_thread(OverridingResponder(status_app(world.home), decide)) as url:
        code, report = audit("--home", str(world.home), "--ocsp", url + "/ocsp", "--probes", "0")
    assert code == 0, report["findings"]
    assert report["summary"]["http_retries"] >= 1

    # a port nobody listens on: every serial is a transport-error, and the run finishes
    dead = f"http://127.0.0.1:{free_port()}/ocsp"
    code, report = audit(
        "--home",
        str(world.home),
        "--ocsp",
        dead,
        "--probes",
        "0",
        "--retries",
        "1",
        "--timeout",
        "1",
    )
    assert code == 4
    assert set(kinds(report)) == {"transport-error"}
    assert len(report["findings"]) == len(world.issued) + 1
    assert "after 2 attempt(s)" in report["findings"][0]["detail"]


def test_table_output_and_progress(world: World, ours: str) -> None:
    proc = run_cli(
        "audit",
        "coverage",
        "--home",
        str(world.home),
        "--ocsp",
        ours + "/ocsp",
        "--probes",
        "1",
        "--workers",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Status coverage" in proc.stdout and "ocsp answers" in proc.stdout
    assert '"event": "progress"' in proc.stderr  # structured progress when not on a TTY


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--certs", "/nonexistent-dir", "--issuer", "/nonexistent.pem"], "cannot read"),
        (["--certs", "."], "--certs and --issuer go together"),
        (["--home", "/nonexistent-home"], ""),
        (["--ocsp", "ftp://example.com/ocsp", "--home", "HOME"], "not an http"),
        (["--method", "PUT", "--home", "HOME"], "--method"),
    ],
)
def test_bad_input_exits_1_with_one_line(world: World, args: list[str], message: str) -> None:
    args = [str(world.home) if a == "HOME" else a for a in args]
    code, out, err = invoke("audit", "coverage", *args)
    assert code == 1, out + err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert message in err


def test_a_file_that_is_not_a_certificate_is_named(world: World, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    shutil.copytree(world.cert_files, certs)
    (certs / "notes.txt").write_text("not a certificate\n")
    proc = run_cli(
        "audit",
        "coverage",
        "--certs",
        str(certs),
        "--issuer",
        str(world.issuer_file),
        "--ocsp",
        "http://127.0.0.1:9/ocsp",
    )
    assert proc.returncode == 1
    assert "notes.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_certificates_of_another_issuer_are_refused(world: World, tmp_path: Path) -> None:
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(world.home)
    try:
        other = ca.inventory.issuer_by_name("tls-rsa-1").cert_der
    finally:
        ca.close()
    wrong = tmp_path / "wrong-issuer.der"
    wrong.write_bytes(other)
    proc = run_cli(
        "audit",
        "coverage",
        "--certs",
        str(world.cert_files),
        "--issuer",
        str(wrong),
        "--ocsp",
        "http://127.0.0.1:9/ocsp",
    )
    assert proc.returncode == 1
    assert "was not issued by" in proc.stderr


def test_good_encoding_is_what_the_forge_signs(world: World, forge: HandMade) -> None:
    """The hand-made responses are otherwise clean: only what a test changes is caught."""
    from certkeeper.audit.ocsp_lint_cache import OcspLintCache
    from certkeeper.audit.ocsp_response import parse_response

    der = forge.response(int(world.issued[2], 16), status=GOOD)
    outcome = OcspLintCache().check(der, parse_response(der), world.issuer_der)
    assert [f.lint_id for f in outcome.findings] == []


def test_get_requests_as_a_cdn_would_cache_them(world: World, ours: str) -> None:
    """RFC 5019 GET with the URL-encoded base64 request in the path."""
    code, report = audit(
        "--home", str(world.home), "--ocsp", ours + "/ocsp", "--method", "GET", "--probes", "2"
    )
    assert code == 0, report["findings"]
    assert report["summary"]["ocsp_answers"]["good"] == len(world.issued) - 2
