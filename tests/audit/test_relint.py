"""Relint: findings are stored per run, and the report names what is new."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.lint import catalogue, engine
from certkeeper.lint.catalogue import load_all
from certkeeper.lint.engine import CertType, DocType, Severity
from certkeeper.store.lint_runs import LintRunStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem


def issue_some(ca: CaHome, names: list[str]) -> list[str]:
    service = issuance_service(ca)
    return [
        service.issue(IssueRequest(load_csr(csr_pem([n])), "tls-dv-ecdsa")).serial for n in names
    ]


def test_a_new_lint_reports_exactly_the_certificates_it_hits(
    fresh_ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = issue_some(fresh_ca, ["one.example.com", "two.example.org", "three.example.com"])
    first = wiring.build(fresh_ca).relinter.relint(use_pkilint=False, workers=1)
    assert first.documents == 6  # three certificates and their precertificates
    assert first.new == [f for f in first.findings]  # everything is new against issuance

    second = wiring.build(fresh_ca).relinter.relint(use_pkilint=False, workers=1)
    assert second.previous_run_id == first.run_id
    assert second.new == []  # nothing changed: nothing new

    # The linter is upgraded: a new lint condemns names under .org (a stand-in for a TLD
    # that turns out never to have been delegated, seed 002).
    load_all()

    def no_org(doc: object, ctx: object):
        from cryptography import x509

        cert = x509.load_der_x509_certificate(doc.der)  # type: ignore[attr-defined]
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for name in san.get_values_for_type(x509.DNSName):
            if name.endswith(".org"):
                yield "tbsCertificate.extensions.subjectAltName", f"{name} is under .org"

    lint = engine.Lint(
        "e_test_no_org",
        Severity.ERROR,
        "test",
        "test lint",
        frozenset({DocType.CERTIFICATE}),
        no_org,
        cert_types=frozenset({CertType.SUBSCRIBER, CertType.PRECERTIFICATE}),
    )
    monkeypatch.setitem(engine.REGISTRY.lints, lint.id, lint)
    monkeypatch.setattr(catalogue, "_selection", {})
    third = wiring.build(fresh_ca).relinter.relint(use_pkilint=False, workers=1)
    hit = third.new_by_certificate()
    assert set(hit) == {(serials[1], "certificate"), (serials[1], "precertificate")}
    assert all(ids == ["e_test_no_org"] for ids in hit.values())
    stored = LintRunStore(fresh_ca.inventory.engine).findings(third.run_id)
    assert {f.serial for f in stored if f.lint_id == "e_test_no_org"} == {serials[1]}


def test_relint_cli_and_bad_input(fresh_ca: CaHome, monkeypatch: pytest.MonkeyPatch) -> None:
    issue_some(fresh_ca, ["cli.example.com"])
    runner = CliRunner()
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    home = str(fresh_ca.config.home)
    result = runner.invoke(
        app, ["audit", "relint", "--home", home, "--format", "json", "--workers", "1"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert '"documents": 2' in result.stdout
    result = runner.invoke(
        app, ["audit", "relint", "--home", home, "--lint", "e_no_such_lint"], env=env
    )
    assert result.exit_code == 1 and "unknown lint id(s): e_no_such_lint" in result.stderr
    result = runner.invoke(
        app, ["audit", "relint", "--home", home, "--since", "yesterday"], env=env
    )
    assert result.exit_code == 1 and "is not a date" in result.stderr


def test_relint_with_pkilint_stores_pkilint_findings_by_linter(
    fresh_ca: CaHome, tmp_path: Path
) -> None:
    issue_some(fresh_ca, ["pk.example.com"])
    report = wiring.build(fresh_ca).relinter.relint(use_pkilint=True, workers=1)
    assert report.documents == 2
    assert not [f for f in report.findings if f.severity in ("ERROR", "FATAL")]
