"""RFC 6962 test logs for the benchmarks: `certkeeper ct serve-log` processes on loopback
(each its own interpreter, as a real log would be), and the `[ct]` table that names them
in a CA home. A public home issues only with SCTs, so every benchmark of a public home
runs with these logs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from certkeeper.ct.loglist import load_log_list, render_log_list


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_logs(
    root: Path, work: Path, count: int, entries: Path | None = None
) -> Iterator[list[tuple[str, Path]]]:
    """`count` serve-log processes accepting `root`; yields (url, log list file) per log."""
    procs = []
    out = []
    try:
        for i in range(count):
            port = free_port()
            listing = work / f"log{i}.json"
            args = [
                sys.executable, "-m", "certkeeper", "ct", "serve-log",
                "--key", str(work / f"log{i}.key"),
                "--root", str(root),
                "--port", str(port),
                "--log-list", str(listing),
                "--operator", f"Operator {i}",
            ]  # fmt: skip
            if entries is not None:
                args += ["--entries", str(entries)]
            procs.append(subprocess.Popen(args, stderr=subprocess.DEVNULL))
            out.append((f"http://127.0.0.1:{port}/", listing))
        for url, _ in out:
            wait_for(url)
        yield out
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def wait_for(url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "ct/v1/get-sth", timeout=600).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def name_logs(home: Path, served: list[tuple[str, Path]]) -> None:
    """Write one log list of all `served` logs (an operator each) into the home's `[ct]`."""
    listed = []
    for i, (url, listing) in enumerate(served):
        (log,) = load_log_list(str(listing)).logs
        listed.append((f"Operator {i}", f"log {i}", log.key, url))
    (home / "ct").mkdir(exist_ok=True)
    (home / "ct/log_list.json").write_text(render_log_list(listed, datetime.now(UTC)))
    config = home / "certkeeper.toml"
    config.write_text(config.read_text() + '\n[ct]\nlog_list = "ct/log_list.json"\n')
