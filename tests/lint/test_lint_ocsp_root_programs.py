"""BR 7.3.2 (no reasonCode in singleExtensions) and the `mozilla` lint source (no P-521)."""

from __future__ import annotations

import json
from pathlib import Path

from lintkit import (
    ec_key,
    errors,
    gen,
    leaf,
    lint_cert,
    lint_ocsp,
    make_ocsp,
    reason_ext,
    revoked,
    single,
)
from typer.testing import CliRunner

from certkeeper.br import OCSP_REASON_CODE_BANNED_FROM
from certkeeper.cli.main import app
from certkeeper.lint.catalogue import all_lints, run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import ALL_SOURCES, SOURCE_BR, SOURCE_MOZILLA

P521_LEAF = leaf(key=ec_key("p521", 3))
WHEN = gen("20250530120000Z")


def test_reason_code_in_single_extensions_is_caught() -> None:
    bad = make_ocsp([single(revoked(WHEN, 1), exts=[reason_ext(1)])])
    assert "e_ocsp_single_extension_reason_code" in lint_ocsp(bad)
    good = make_ocsp([single(revoked(WHEN, 1))])  # the reason in revokedInfo
    found = lint_ocsp(good)
    assert "e_ocsp_single_extension_reason_code" not in found
    assert errors(found) == set()


def test_reason_code_rule_starts_with_br_1_7_1() -> None:
    day = OCSP_REASON_CODE_BANNED_FROM
    before = f"{day.year}{day.month:02d}{day.day - 1:02d}120000Z"
    old = make_ocsp(
        [
            single(
                revoked(gen(before), 1),
                this_update=gen(before),
                next_update=gen(before.replace("120000Z", "130000Z")),
                exts=[reason_ext(1)],
            )
        ],
        produced_at=gen(before),
    )
    assert "e_ocsp_single_extension_reason_code" not in lint_ocsp(old)


def test_p521_fails_the_mozilla_source_only() -> None:
    found = lint_cert(P521_LEAF)
    assert "e_mozilla_ec_curve_p521" in found
    assert "e_cert_ec_curve_not_allowed" not in found  # the BR allow P-521
    br_only = run_lints(CertificateDocument(P521_LEAF), LintContext(), sources=[SOURCE_BR])
    assert "e_mozilla_ec_curve_p521" not in {f.lint_id for f in br_only}
    assert errors({f.lint_id for f in br_only}) == set()
    assert "e_mozilla_ec_curve_p521" not in lint_cert(leaf())  # P-256


def test_every_lint_has_a_known_source() -> None:
    sources = {lint.source for lint in all_lints()}
    assert sources <= ALL_SOURCES
    assert SOURCE_MOZILLA in sources


def test_cli_source_selection(tmp_path: Path) -> None:
    path = tmp_path / "p521.der"
    path.write_bytes(P521_LEAF)
    runner = CliRunner()

    def ids_for(*args: str) -> tuple[int, set[str]]:
        result = runner.invoke(app, ["lint", "--only-ours", "--format", "json", *args, str(path)])
        report = json.loads(result.stdout)
        return result.exit_code, {f["lint_id"] for f in report[0]["findings"]}

    code, found = ids_for()
    assert "e_mozilla_ec_curve_p521" in found and code != 0
    code, found = ids_for("--exclude-source", "mozilla")
    assert "e_mozilla_ec_curve_p521" not in found and code == 0
    code, found = ids_for("--source", "mozilla")
    assert found == {"e_mozilla_ec_curve_p521"}
    bad = runner.invoke(app, ["lint", "--only-ours", "--source", "apple", str(path)])
    assert bad.exit_code == 1 and "unknown lint source 'apple'" in bad.output
    listed = runner.invoke(app, ["lint", "--list"]).output
    assert any(
        line.startswith("e_mozilla_ec_curve_p521\t") and "\tmozilla\t" in line
        for line in listed.splitlines()
    )


def test_undecodable_curve_oid_does_not_crash_the_mozilla_lint() -> None:
    p521_oid = bytes.fromhex("06052b81040023")
    assert p521_oid in P521_LEAF
    broken = P521_LEAF.replace(p521_oid, bytes.fromhex("06058081040023"))  # non-minimal arc
    findings = run_lints(CertificateDocument(broken), LintContext())
    assert not [f for f in findings if f.lint_id == "f_lint_crashed"]
