"""The CRL monitor against a real CA home: CRLs published by `crl publish`, served over
HTTP on loopback, watched round by round through the CLI; and crl-diff on files."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from certkeeper import crl_files, wiring
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import Issued, IssueRequest
from certkeeper.store.revocations import RevocationStore
from certkeeper.store.tables import revocations
from certkeeper.wiring import issuance_service
from certkeeper.x509 import crl as crlenc
from factories import PASSPHRASE, csr_pem, make_home

SHARDS = 2
BASE_URL = "http://pki.example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Proxy(SimpleHTTPRequestHandler):
    """Serves the CA home for every host: what a forward proxy in front of the real
    publication host would return. Requests arrive with absolute URIs."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(urlsplit(path).path)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """A CA home published under http://pki.example.com, reached through a loopback HTTP
    proxy serving the home directory, so `<home>/crl` answers at `<base_url>/crl`."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    port = _free_port()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    home = make_home(tmp_path / "home", crl_shards=SHARDS, base_url=BASE_URL)
    handler = functools.partial(_Proxy, directory=str(home))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca = CaHome.open(home)
    service = issuance_service(ca)

    def issue(name: str) -> Issued:
        return service.issue(IssueRequest(load_csr(csr_pem([name])), "tls-dv-ecdsa"))

    certs = [issue(f"w{i}.example.com") for i in range(4)]
    now = datetime.now(UTC).replace(microsecond=0)
    revs = RevocationStore(ca.inventory.engine)
    for issued in certs[:3]:
        revs.record(issued.serial, now, crlenc.SUPERSEDED, "test", None, now)
    wiring.build(ca).crl.publish(home / "crl", now)
    yield {"home": home, "ca": ca, "certs": certs, "now": now, "port": port}
    server.shutdown()
    server.server_close()
    ca.close()


def _watch(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["audit", "crl-watch", *args, "--once", "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _drop_revocation(ca: CaHome, serial: str) -> None:
    """What a broken publisher would do: forget a revocation before the certificate expired."""
    with ca.inventory.engine.begin() as conn:
        conn.execute(delete(revocations).where(revocations.c.serial == serial))


def test_watch_over_http_is_clean_then_catches_an_entry_removed_early(
    served: dict[str, object], tmp_path: Path
) -> None:
    ca, home, now = served["ca"], served["home"], served["now"]
    assert isinstance(ca, CaHome) and isinstance(home, Path) and isinstance(now, datetime)
    array_url = f"{BASE_URL}/crl/tls-ecdsa-1.json"
    state = tmp_path / "state"
    code, first = _watch(array_url, "--state", str(state), "--home", str(home))
    assert code == 0, first
    assert first["crls"] == SHARDS and first["entries"] == 3 and first["findings"] == []
    # An unchanged set is still clean on the next round.
    code, again = _watch(array_url, "--state", str(state), "--home", str(home))
    assert (code, again["findings"]) == (0, [])

    victim = served["certs"][1]  # type: ignore[index]
    _drop_revocation(ca, victim.serial)
    wiring.build(ca).crl.publish(home / "crl", now + timedelta(hours=1))
    code, caught = _watch(array_url, "--state", str(state), "--home", str(home))
    assert code == 4
    findings = caught["findings"]
    assert isinstance(findings, list)
    (early,) = [f for f in findings if f["code"] == "early-removal"]
    assert early["serial"] == victim.serial and early["severity"] == "error"
    assert "valid until" in early["message"]
    assert [f["code"] for f in findings] == ["early-removal"]
    # The state keeps the early removal: the next round reports it again...
    code, again = _watch(array_url, "--state", str(state), "--home", str(home))
    assert code == 4
    assert [(f["code"], f["serial"]) for f in again["findings"]] == [
        ("early-removal", victim.serial)
    ]
    # ...until the serial is listed again.
    later = now + timedelta(hours=2)
    RevocationStore(ca.inventory.engine).record(
        victim.serial, now, crlenc.SUPERSEDED, "restored", None, now
    )
    wiring.build(ca).crl.publish(home / "crl", later)
    code, after = _watch(array_url, "--state", str(state), "--home", str(home))
    assert (code, after["findings"]) == (0, [])


def test_watch_a_local_publish_dir_and_a_missing_shard(
    served: dict[str, object], tmp_path: Path
) -> None:
    home = served["home"]
    assert isinstance(home, Path)
    state = tmp_path / "state"
    code, first = _watch(str(home / "crl"), "--state", str(state))
    assert code == 0 and first["crls"] == 2 * SHARDS  # both issuing CAs' arrays
    code, one = _watch(str(home / "crl" / "tls-ecdsa-1"), "--state", str(tmp_path / "one"))
    assert code == 0 and one["crls"] == SHARDS  # an issuer directory: its sibling array
    crl_files.shard_path(home / "crl", "tls-rsa-1", 1).unlink()
    code, second = _watch(str(home / "crl"), "--state", str(state))
    assert code == 4
    findings = second["findings"]
    assert isinstance(findings, list)
    assert [f["code"] for f in findings] == ["shard-unavailable"]
    # An array that cannot be fetched is a finding of the round, not a crash.
    code, gone = _watch(f"{BASE_URL}/crl/nope.json", "--state", str(tmp_path / "s2"))
    assert code == 4
    (finding,) = gone["findings"]
    assert finding["code"] == "shard-list-unavailable" and "HTTP 404" in finding["message"]


def test_crl_diff_files_pem_and_der_with_and_without_expiry_source(
    served: dict[str, object], tmp_path: Path
) -> None:
    ca, home, now = served["ca"], served["home"], served["now"]
    assert isinstance(ca, CaHome) and isinstance(home, Path) and isinstance(now, datetime)
    certs = served["certs"]
    assert isinstance(certs, list)
    shard_of = {c.serial: ca.inventory.certificate(serial=c.serial).crl_shard for c in certs}
    victim = certs[0]
    path = crl_files.shard_path(home / "crl", "tls-ecdsa-1", shard_of[victim.serial])
    old = tmp_path / "old.pem"
    # the earlier CRL as PEM, written by openssl: the monitor reads either form
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-outform", "PEM", "-out", str(old)],
        check=True,
    )
    _drop_revocation(ca, victim.serial)
    wiring.build(ca).crl.publish(home / "crl", now + timedelta(hours=1))
    runner = CliRunner()
    args = ["audit", "crl-diff", str(old), str(path), "--format", "json"]
    blind = runner.invoke(app, args)
    assert blind.exit_code == 4
    (warning,) = json.loads(blind.stdout)["findings"]
    assert warning["code"] == "removal-not-verifiable" and warning["severity"] == "warning"

    informed = runner.invoke(app, [*args, "--home", str(home)])
    assert informed.exit_code == 4
    (error,) = json.loads(informed.stdout)["findings"]
    assert error["code"] == "early-removal" and error["serial"] == victim.serial

    certs_dir = tmp_path / "certs"
    certs_dir.mkdir()
    for c in certs:
        (certs_dir / f"{c.serial}.der").write_bytes(c.der)
    listed = runner.invoke(app, [*args, "--certs", str(certs_dir)])
    assert json.loads(listed.stdout)["findings"][0]["code"] == "early-removal"

    same = runner.invoke(app, ["audit", "crl-diff", str(path), str(path)])
    assert same.exit_code == 0, same.output
    url = f"{BASE_URL}/crl/tls-ecdsa-1/{shard_of[victim.serial]}.crl"
    fetched = runner.invoke(app, ["audit", "crl-diff", str(old), url, "--home", str(home)])
    assert fetched.exit_code == 4 and "early-removal" in fetched.stdout

    bad = runner.invoke(app, ["audit", "crl-diff", str(tmp_path / "nope.crl"), str(path)])
    assert bad.exit_code == 1 and "nope.crl: cannot read" in bad.output
    assert "Traceback" not in bad.output
