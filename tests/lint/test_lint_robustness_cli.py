"""Damaged input never crashes a lint; the CLI and the TLD data commands behave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lintkit import crl_entry, issuing_ca, leaf, make_crl, make_ocsp, reason_ext
from typer.testing import CliRunner

from certkeeper.cli.main import app
from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.loading import load_document
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import CertType, DocType, Severity
from certkeeper.lint.tld import TldData

LEAF = leaf()
CRL = make_crl([crl_entry(0x7A01, exts=[reason_ext(1)])])
OCSP = make_ocsp()
CTX = LintContext(issuer=issuing_ca("ec").cert)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [(LEAF, CertificateDocument), (CRL, CrlDocument), (OCSP, OcspResponseDocument)]
    ),
    st.data(),
)
def test_mutated_documents_never_crash_a_lint(
    kind: tuple[bytes, type], data: st.DataObject
) -> None:
    base, cls = kind
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    findings = run_lints(cls(bytes(buf)), CTX)
    assert not [f for f in findings if f.lint_id == "f_lint_crashed"], findings


def test_load_document_detects_formats() -> None:
    import base64

    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(LEAF) + b"-----END CERTIFICATE-----\n"
    )
    assert load_document(pem).doc_type is DocType.CERTIFICATE
    assert load_document(base64.b64encode(CRL)).doc_type is DocType.CRL
    assert load_document(OCSP).doc_type is DocType.OCSP_RESPONSE
    assert load_document(LEAF).doc_type is DocType.CERTIFICATE
    from certkeeper.errors import InputError

    for junk in (b"", b"hello world", b"\x30\x03\x01\x01\xff", b"-----BEGIN CERTIFICATE-----\nxx"):
        with pytest.raises(InputError):
            load_document(junk)


def test_truncated_certificate_becomes_a_finding() -> None:
    doc = load_document(LEAF[:-10])
    assert "e_cert_der_malformed" in {f.lint_id for f in run_lints(doc, LintContext())}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for label, data in (
        ("good", LEAF),
        ("bad", leaf(bc_critical=False)),
        ("crl", CRL),
        ("ocsp", OCSP),
    ):
        p = tmp_path / f"{label}.der"
        p.write_bytes(data)
        out[label] = p
    issuer = tmp_path / "issuer.der"
    issuer.write_bytes(issuing_ca("ec").der)
    out["issuer"] = issuer
    return out


def test_cli_lint_exit_codes_and_both_linters(files: dict[str, Path]) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "lint",
            str(files["good"]),
            str(files["crl"]),
            str(files["ocsp"]),
            "--issuer",
            str(files["issuer"]),
        ],
    )
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["lint", str(files["bad"]), "--format", "json"])
    assert bad.exit_code == 4
    report = json.loads(bad.output)
    linters = {f["linter"] for f in report[0]["findings"] if f["severity"] == "ERROR"}
    assert linters == {"certkeeper", "pkilint"}
    ours = runner.invoke(app, ["lint", str(files["bad"]), "--only-ours"])
    assert ours.exit_code == 4 and "pkilint " not in ours.output.replace("pkilint: ", "")
    assert "e_sub_basic_constraints_not_critical" in ours.output


def test_cli_lint_bad_input_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not a certificate at all")
    result = CliRunner().invoke(app, ["lint", str(junk)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["lint", str(tmp_path / "nope.der")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_cli_lint_list() -> None:
    result = CliRunner().invoke(app, ["lint", "--list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) > 150
    assert any(line.startswith("e_ocsp_time_fractional_seconds\tERROR") for line in lines)


def test_data_update_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTKEEPER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(TldData, "installed_at", None)  # the CLI installs this test's location
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text("tld,delegated,removed\ncom,1985-01-01,\nnet,not-a-date,\n")
    result = runner.invoke(app, ["data", "update", "--from", str(bad)])
    assert result.exit_code == 1 and "line 3" in result.output
    good = tmp_path / "good.csv"
    good.write_text("tld,delegated,removed\ncom,1985-01-01,\ngbl,2030-01-01,\n")
    result = runner.invoke(app, ["data", "update", "--from", str(good)])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["data", "show"])
    assert "2 listed" in shown.output and str(tmp_path / "data") in shown.output
    data = TldData.load()
    from datetime import date

    assert data.is_delegated("com", date(2025, 1, 1))
    assert not data.is_delegated("gbl", date(2025, 1, 1))
    assert "not delegated until 2030-01-01" in data.status("gbl", date(2025, 1, 1))


def test_packaged_tld_data() -> None:
    from datetime import date

    data = TldData.default()
    assert data.is_delegated("com", date(2000, 1, 1))
    assert not data.is_delegated("gbl", date(2025, 1, 1))
    assert data.is_delegated("abarth", date(2020, 1, 1)) and not data.is_delegated(
        "abarth", date(2023, 6, 5)
    )


def _malformed(length: int) -> list[bytes]:
    """Values of exactly `length` octets that no DER decoder accepts."""
    pad = b"\x00" * (length - 2)
    return [
        b"\x30\x81" + pad,  # non-minimal length
        b"\x30\x80" + pad,  # indefinite length
        b"\x1f\x01" + pad,  # high-tag-number form
        b"\x30" + bytes([length]) + pad,  # runs past its container
    ]


@pytest.mark.parametrize("oid", [b"\x06\x03\x55\x1d\x13", b"\x06\x03\x55\x1d\x25"])
def test_undecodable_basic_constraints_or_eku_still_gets_a_type(oid: bytes) -> None:
    """Regression: a malformed basicConstraints or EKU value made type detection raise."""
    index = LEAF.find(oid)
    assert index > 0
    octet = LEAF.index(b"\x04", index + len(oid))  # after the optional critical BOOLEAN
    length = LEAF[octet + 1]
    for blob in _malformed(length):
        mutated = LEAF[: octet + 2] + blob + LEAF[octet + 2 + length :]
        assert len(mutated) == len(LEAF)
        doc = CertificateDocument(mutated)
        assert doc.cert_type is CertType.SUBSCRIBER
        findings = run_lints(doc, CTX)
        assert not [f for f in findings if f.lint_id == "f_lint_crashed"], findings
        assert any(f.severity >= Severity.ERROR for f in findings)
