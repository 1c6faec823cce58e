"""`certkeeper ct serve-log`: the test log as a staging service, surviving a restart."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.ct.loglist import load_log_list
from certkeeper.ct.sct import precert_entry, verify_sct
from certkeeper.ct.submit import sct_from_json
from dnsserver import free_port

from .served import MiniCa

T = datetime(2026, 11, 2, tzinfo=UTC)


@contextmanager
def serve(tmp_path: Path, ca: MiniCa, port: int, name: str = "log") -> Iterator[str]:
    root = tmp_path / "root.pem"
    root.write_bytes(ca.root.public_bytes(Encoding.PEM))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "ct",
            "serve-log",
            "--key",
            str(tmp_path / f"{name}.key"),
            "--root",
            str(root),
            "--port",
            str(port),
            "--entries",
            str(tmp_path / f"{name}.entries"),
            "--operator",
            f"operator of {name}",
            "--log-list",
            str(tmp_path / "log_list.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "ct/v1/get-sth", timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve-log did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_serve_log_writes_its_log_list_and_keeps_entries_across_restarts(tmp_path: Path) -> None:
    ca = MiniCa.create(T)
    port = free_port()
    pre = ca.precertificate(T)
    body = json.dumps(
        {"chain": [base64.b64encode(d).decode() for d in (pre, *ca.chain())]}
    ).encode()
    with serve(tmp_path, ca, port) as url:
        request = urllib.request.Request(url + "ct/v1/add-pre-chain", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            sct = sct_from_json(response.read())
        logs = load_log_list(str(tmp_path / "log_list.json"))
        (log,) = logs.logs
        assert log.url == url
        verify_sct(sct, log.key, precert_entry(pre, ca.issuer))
        first = _get(url + "ct/v1/get-sth")
    assert (tmp_path / "log.key").stat().st_mode & 0o777 == 0o600
    with serve(tmp_path, ca, port) as url:
        again = _get(url + "ct/v1/get-sth")
        assert again["tree_size"] == 1
        assert again["sha256_root_hash"] == first["sha256_root_hash"]


def test_two_staging_logs_share_one_log_list(tmp_path: Path) -> None:
    ca = MiniCa.create(T)
    with serve(tmp_path, ca, free_port(), "a") as a, serve(tmp_path, ca, free_port(), "b") as b:
        logs = load_log_list(str(tmp_path / "log_list.json")).logs
        assert sorted((log.operator, log.url) for log in logs) == [
            ("operator of a", a),
            ("operator of b", b),
        ]
    with serve(tmp_path, ca, free_port(), "a") as moved:  # same key, new port: replaced
        logs = load_log_list(str(tmp_path / "log_list.json")).logs
        assert sorted(log.url for log in logs) == sorted([moved, b])
