"""`certkeeper lint --type` overrides detection; non-TLS certificates are out of scope."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from lintkit import issuing_ca, leaf, make_crl, make_ocsp, root
from typer.testing import CliRunner

from certkeeper.br import IP_REVERSE_ZONE_BANNED_FROM
from certkeeper.cli.main import app
from certkeeper.errors import InputError
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.loading import load_document
from certkeeper.lint.engine import CertType, DocType
from certkeeper.lint.scope import CERT_KINDS, DocumentKind, load_as, out_of_scope

SMIME = leaf(eku=(ExtendedKeyUsageOID.EMAIL_PROTECTION,))
CODE_SIGNING = leaf(eku=(ExtendedKeyUsageOID.CODE_SIGNING,))


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _json(args: list[str]) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["lint", "--only-ours", "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("kind", list(CERT_KINDS))
def test_type_forces_the_certificate_type(kind: DocumentKind) -> None:
    doc = load_as(leaf(), "leaf.der", kind)
    assert isinstance(doc, CertificateDocument)
    assert doc.cert_type is CERT_KINDS[kind]


def test_type_changes_which_lints_run(tmp_path: Path) -> None:
    # A TLS subordinate CA linted as a root: root rules (no EKU, self-issued) now apply.
    path = _write(tmp_path, "sub.der", issuing_ca("ec").der)
    _, detected = _json([str(path)])
    assert detected[0]["certificate_type"] == "subordinate_ca"
    code, forced = _json(["--type", "root", str(path)])
    assert forced[0]["certificate_type"] == "root"
    found = {f["lint_id"] for f in forced[0]["findings"]}  # type: ignore[attr-defined]
    assert "e_root_eku_present" in found
    assert code != 0


def test_type_crl_and_ocsp_response() -> None:
    assert load_as(make_crl([]), "x.crl", DocumentKind.crl).doc_type is DocType.CRL
    assert load_as(make_ocsp(), "x.ocsp", DocumentKind.ocsp_response).doc_type is (
        DocType.OCSP_RESPONSE
    )


def test_certificate_type_on_a_crl_is_one_error_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs a certificate"):
        load_as(make_crl([]), "x.crl", DocumentKind.subscriber)
    path = _write(tmp_path, "x.crl", make_crl([]))
    result = CliRunner().invoke(app, ["lint", "--only-ours", "--type", "root", str(path)])
    assert result.exit_code == 1
    assert "needs a certificate" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("data", "what"), [(SMIME, "S/MIME"), (CODE_SIGNING, "code signing")])
def test_non_tls_certificates_are_out_of_scope(tmp_path: Path, data: bytes, what: str) -> None:
    reason = out_of_scope(load_document(data))
    assert reason is not None and what in reason
    path = _write(tmp_path, "other.der", data)
    code, report = _json([str(path)])
    assert code == 0
    assert report[0]["findings"] == []
    assert what in str(report[0]["out_of_scope"])
    text = CliRunner().invoke(app, ["lint", "--only-ours", str(path)])
    assert "out of scope" in text.output and text.exit_code == 0
    # Naming the type lints it as what the user says it is: a broken TLS certificate.
    code, forced = _json(["--type", "subscriber", str(path)])
    assert forced[0]["out_of_scope"] is None
    found = {f["lint_id"] for f in forced[0]["findings"]}  # type: ignore[attr-defined]
    assert "e_sub_eku_server_auth_missing" in found
    assert code != 0


@pytest.mark.parametrize(
    "data",
    [
        leaf(),  # TLS server
        leaf(eku=None),  # no EKU: a BR defect, not a reason to skip
        leaf(eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION)),
        root().der,
        issuing_ca("ec").der,
    ],
    ids=["tls", "no-eku", "server-and-email", "root", "sub-ca"],
)
def test_tls_documents_stay_in_scope(data: bytes) -> None:
    assert out_of_scope(load_document(data)) is None


def test_precert_signing_ca_type_name() -> None:
    doc = load_as(issuing_ca("ec").der, "ca.der", DocumentKind.precert_signing_ca)
    assert doc.cert_type is CertType.PRECERT_SIGNING_CA


def test_legacy_findings_are_reported_apart_and_never_fail(tmp_path: Path) -> None:
    # A public reverse-zone name was allowed until BR 4.2.2 banned them on 2026-03-15.
    day = dt.datetime.combine(IP_REVERSE_ZONE_BANNED_FROM, dt.time(), dt.UTC)
    path = _write(
        tmp_path,
        "old.pem",
        leaf(names=("www.example.com", "4.4.8.8.in-addr.arpa"), not_before=day - dt.timedelta(1)),
    )
    code, report = _json([str(path)])
    assert code == 0 and "e_sub_reverse_zone_name" not in json.dumps(report)
    code, report = _json(["--legacy", str(path)])
    findings = report[0]["findings"]
    assert isinstance(findings, list)
    legacy = [f for f in findings if f["lint_id"] == "e_sub_reverse_zone_name"]
    assert code == 0 and [f["legacy"] for f in legacy] == [True]
    text = CliRunner().invoke(app, ["lint", "--only-ours", "--legacy", str(path)]).stdout
    assert "legacy  e_sub_reverse_zone_name" in text and "legacy: 1 finding(s)" in text
