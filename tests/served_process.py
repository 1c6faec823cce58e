"""`certkeeper serve ...` in a subprocess on a free loopback port, for tests that need the
real server (granian workers, the CLI's checks at start), started and stopped alike."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dnsserver import free_port


def healthy(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextmanager
def serve(
    home: Path,
    *mode: str,
    env: dict[str, str],
    health: str = "/healthz",
    log: list[str] | None = None,
    timeout: float = 60,
) -> Iterator[int]:
    """Yield the port once `health` answers 200; the server's output goes to `log`."""
    port = free_port()
    args = [sys.executable, "-m", "certkeeper", "serve", *mode, "--home", str(home)]
    proc = subprocess.Popen(
        [*args, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its worker processes can be stopped with it
    )
    try:
        deadline = time.monotonic() + timeout
        while not healthy(port, health):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server did not start: {out}")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # The server, or a worker it left behind, still holds the output open: without
            # this, reading it to its end would wait for ever.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # no worker outlives the test
        if log is not None:
            log.extend(out.decode(errors="replace").splitlines())
