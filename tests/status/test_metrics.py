"""/metrics, /healthz and /readyz on a running server (granian, two workers): counters
merged across workers, status figures read from the inventory, and readiness that
follows the database."""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from factories import PASSPHRASE, csr_pem, make_home
from pgserver import PostgresServer
from served_process import serve


def get(port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, body, {"content-type": "application/ocsp-request"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextmanager
def serving(home: Path, *mode: str, log: list[str] | None = None) -> Iterator[int]:
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with serve(home, *mode, env=env, log=log) as port:
        yield port


def issue_one(home: Path, tmp_path: Path, name: str) -> tuple[x509.Certificate, x509.Certificate]:
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_pem([name]))
    out = tmp_path / "cert.pem"
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    result = CliRunner().invoke(
        app,
        [
            "issue",
            "--home",
            str(home),
            "--csr",
            str(csr),
            "--profile",
            "tls-dv-ecdsa",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    cert, issuer = x509.load_pem_x509_certificates(out.read_bytes())[:2]
    return cert, issuer


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def test_a_scrape_merges_workers_and_reads_status_from_the_inventory(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", crl_shards=2)
    cert, issuer = issue_one(home, tmp_path, "metrics.example.com")
    published = CliRunner().invoke(
        app, ["crl", "publish", "--home", str(home)], env={"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    )
    assert published.exit_code == 0, published.output
    budget = CaHome.open(home).config.crl_budget_bytes
    request = ocsp_request(cert, issuer)
    with serving(home) as port:
        for _ in range(20):  # spread over both workers by the kernel
            status, body = get(port, "/ocsp", request)
            assert status == 200
            assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.GOOD
        assert get(port, "/healthz") == (200, b"ok\n")
        status, ready = get(port, "/readyz")
        assert status == 200 and b'"ready": true' in ready
        status, body = get(port, "/metrics")
    assert status == 200
    found = samples(body)
    assert total(found, "certkeeper_http_requests_total", route="ocsp", code="200") == 20
    assert total(found, "certkeeper_http_request_seconds_count", route="ocsp") == 20
    assert total(found, "certkeeper_ocsp_lookups_total", result="good") >= 1
    assert total(found, "certkeeper_database_up") == 1
    assert total(found, "certkeeper_ocsp_stale_responses") == 0
    assert total(found, "certkeeper_ocsp_responses", status="good") == 1
    assert total(found, "certkeeper_ocsp_response_age_limit_seconds") == 10 * 86400
    assert total(found, "certkeeper_crl_budget_bytes") == budget
    shards = [k for k in found if k[0] == "certkeeper_crl_bytes"]
    assert len(shards) >= 2 and all(found[k] > 0 for k in shards)
    assert all(found[k] == 0 for k in found if k[0] == "certkeeper_crl_unpublished_revocations")


def test_readyz_follows_the_database(tmp_path: Path) -> None:
    """A PostgreSQL inventory stopped under a running responder: /readyz says 503 and
    why, /healthz stays 200 (the process is alive), /metrics still answers."""
    server = PostgresServer().start()
    try:
        home = make_home(tmp_path / "home", database_url=server.create_database())
        issue_one(home, tmp_path, "ready.example.com")
        with serving(home, "ocsp") as port:
            status, body = get(port, "/readyz")
            assert status == 200, body
            server.stop()
            deadline = time.monotonic() + 30
            while (status := get(port, "/readyz")[0]) != 503 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2.5)  # past every worker's cached verdict
            for _ in range(4):
                status, body = get(port, "/readyz")
                assert status == 503 and b"database unreachable" in body
            assert get(port, "/healthz")[0] == 200
            status, body = get(port, "/metrics")
            assert status == 200 and total(samples(body), "certkeeper_database_up") == 0
    finally:
        server.stop()


def test_every_metric_is_documented() -> None:
    """Every metric name in certkeeper/metrics.py is in docs/metrics.md."""
    from certkeeper import metrics

    documented = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    source = Path(metrics.__file__).read_text()
    names = {n for n in source.split('"') if n.startswith("certkeeper_") and " " not in n}
    assert len(names) >= 20
    assert sorted(names - set(documented.split("`"))) == []


def test_acme_requests_are_logged_as_json_with_their_request_id(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    lines: list[str] = []
    with serving(home, log=lines) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/acme/directory", headers={"X-Request-Id": "req-42.a"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("x-request-id") == "req-42.a"
        conn.request("GET", "/acme/directory", headers={"X-Request-Id": "y" * 200})
        response = conn.getresponse()
        response.read()
        made = response.getheader("x-request-id")
        assert made and len(made) == 16  # an overlong id is replaced
        conn.close()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    (logged,) = [r for r in records if r.get("request_id") == "req-42.a"]
    assert logged["event"] == "acme request" and logged["status"] == 200
    assert logged["path"] == "/acme/directory" and logged["method"] == "GET"
    assert PASSPHRASE not in "\n".join(lines)  # the server had it in its environment


def test_the_formatter_masks_secret_fields_and_keeps_the_rest() -> None:
    import logging

    from certkeeper.logs import REQUEST_ID, JsonFormatter

    record = logging.LogRecord("certkeeper.x", logging.INFO, "", 0, "issued", None, None)
    record.serial = "0a1b"
    record.passphrase = "hunter2"
    record.db_password = "s3cret"
    token = REQUEST_ID.set("r1")
    try:
        doc = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert doc["event"] == "issued" and doc["serial"] == "0a1b" and doc["request_id"] == "r1"
    assert doc["passphrase"] == doc["db_password"] == "[redacted]"


def test_issuance_outcomes_and_blocking_lints_are_counted(tmp_path: Path) -> None:
    from dataclasses import dataclass as plain

    from prometheus_client import REGISTRY

    from certkeeper.errors import IssuanceRefused
    from certkeeper.metrics import counted_issuance

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    @plain
    class Finding:
        lint_id: str

    class Refused(IssuanceRefused):
        findings = (Finding("e_sub_cert_eku_missing"), Finding("e_sub_cert_eku_missing"))

    @plain
    class Request:
        profile_id: str

    class Service:
        @counted_issuance
        def issue(self, request: Request) -> object:
            if request.profile_id == "bad":
                raise Refused("lint gate refused")
            return type("Issued", (), {"serial": "0a"})()

    before = value("certkeeper_lint_refusals_total", lint="e_sub_cert_eku_missing")
    Service().issue(Request("good"))
    with pytest.raises(Refused):
        Service().issue(Request("bad"))
    assert value("certkeeper_issuance_total", profile="good", result="issued") == 1
    assert value("certkeeper_issuance_total", profile="bad", result="refused") == 1
    after = value("certkeeper_lint_refusals_total", lint="e_sub_cert_eku_missing")
    assert after - before == 1  # once per refusal, however often the lint fired

    home = make_home(tmp_path / "home")  # and the real service counts too
    issue_one(home, tmp_path, "counted.example.com")
    assert value("certkeeper_issuance_total", profile="tls-dv-ecdsa", result="issued") >= 1


def test_a_worker_starts_while_the_database_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server worker (re)started after the database went away comes up, so /readyz
    can say why; before, its start failed and granian gave the whole server up."""
    from certkeeper import server_worker
    from certkeeper.server_worker import HOME_ENV, MODE_ENV

    server = PostgresServer().start()
    try:
        home = make_home(tmp_path / "home", database_url=server.create_database())
    finally:
        server.stop()
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv(MODE_ENV, "ocsp")
    logger = logging.getLogger("certkeeper")  # the worker configures logging: put it back
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        assert server_worker.app() is not None
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
