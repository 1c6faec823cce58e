"""OCSP responder throughput and latency, beside `openssl ocsp` serving the same CA.

Builds a CA home, issues a few real certificates and assigns many more serials (each
with a "good" response signed by `sign_status`, as issuance stores it), writes an
openssl index.txt for the same serials, then runs wrk against, in turn:

  - certkeeper's responder under granian (ASGI, uvloop), 2 worker processes
  - the same app under uvicorn (httptools, uvloop), 2 worker processes
  - `openssl ocsp -index ... -multi 2 -timeout 1`, which signs every response live
    (-timeout: OpenSSL 3.0's responder spins on a connection closed before a request,
    such as wrk's initial probe, until the timeout ends that child)

with the same list of GET request paths (RFC 6960 A.1, "/<url-encoded base64>"; all
of them valid requests for assigned serials). Peak: closed loop, `--connections`
connections. Latency at half the peak: each connection waits between requests (wrk's
delay()), so the offered rate is about half of certkeeper's peak; this is closed-loop,
so it understates tail latency under overload (no coordinated-omission correction as
in wrk2, which is not packaged here) but is exact at rates the server keeps up with.

    .venv/bin/python benchmarks/ocsp_responder.py [--serials 2000] [--duration 10]

Goal: at least 1.5 times openssl's requests/s; p99 under 10 ms at half our peak.
Loopback only; every server is started and stopped by this script.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.wiring import build as build_ca
from certkeeper.x509 import ocsp as enc

PASSPHRASE = "benchmark"
ISSUER = "tls-ecdsa-1"
RESPONDER = "ocsp-ecdsa-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_home(root: Path, count: int, real: int) -> tuple[CaHome, list[int]]:
    """A CA home whose ECDSA issuing CA has `count` serials with stored "good" responses:
    `real` from full issuance, the rest assigned through the inventory and signed."""
    home_dir = root / "home"
    create_home(home_dir, InitOptions(public=False), PASSPHRASE.encode())  # no DNS here
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    ca = CaHome.open(home_dir)
    issuer = ca.inventory.issuer_by_name(ISSUER)
    assert issuer.id is not None
    serials: list[int] = []
    if real:
        from certkeeper.issuance.csr import load_csr
        from certkeeper.issuance.service import IssueRequest
        from certkeeper.wiring import issuance_service

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from factories import csr_pem  # type: ignore[import-not-found]

        service = issuance_service(ca)
        for i in range(real):
            issued = service.issue(
                IssueRequest(load_csr(csr_pem([f"r{i}.bench.example.com"])), "tls-dv-ecdsa")
            )
            serials.append(int(issued.serial, 16))
    signer = build_ca(ca).ocsp_signer
    store = ca.stores.ocsp
    now = datetime.now(UTC)
    not_after = now + timedelta(days=90)
    profile_version = ca.profiles.get("tls-dv-ecdsa").version
    records = [
        signer.sign_status(issuer.id, format(s, "x"), not_after=not_after, now=now) for s in serials
    ]
    while len(serials) < count:
        serial = new_serial()
        ca.inventory.assign_serial(
            serial_hex(serial),
            issuer.id,
            "tls-dv-ecdsa",
            profile_version,
            shard_for(serial, ca.config.crl_shards),
            now,
        )
        serials.append(serial)
        records.append(
            signer.sign_status(issuer.id, serial_hex(serial), not_after=not_after, now=now)
        )
    store.put_many(records)
    return ca, serials


def openssl_files(ca: CaHome, root: Path, serials: list[int]) -> tuple[Path, Path, Path, Path]:
    """index.txt (every serial valid), the issuing CA, responder certificate and key."""
    issuer = ca.inventory.issuer_by_name(ISSUER)
    responder = ca.inventory.issuer_by_name(RESPONDER)
    expiry = (datetime.now(UTC) + timedelta(days=90)).strftime("%y%m%d%H%M%SZ")
    index = root / "index.txt"
    index.write_text(
        "".join(f"V\t{expiry}\t\t{s:X}\tunknown\t/CN=bench-{i}\n" for i, s in enumerate(serials))
    )
    ca_pem = root / "issuer.pem"
    ca_pem.write_bytes(
        x509.load_der_x509_certificate(issuer.cert_der).public_bytes(serialization.Encoding.PEM)
    )
    rsigner = root / "responder.pem"
    rsigner.write_bytes(
        x509.load_der_x509_certificate(responder.cert_der).public_bytes(serialization.Encoding.PEM)
    )
    key = serialization.load_pem_private_key(
        (ca.config.home / responder.key_ref).read_bytes(), PASSPHRASE.encode()
    )
    rkey = root / "responder.key"
    rkey.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    rkey.chmod(0o600)
    return index, ca_pem, rsigner, rkey


def lua_script(root: Path, paths: list[str], delay_ms: int) -> Path:
    body = ",\n".join(f'"{p}"' for p in paths)
    delay = f"function delay()\n  return {delay_ms}\nend\n" if delay_ms else ""
    script = root / f"paths_{delay_ms}.lua"
    script.write_text(
        f"local paths = {{\n{body}\n}}\nlocal n = 0\n"
        "function request()\n  n = n + 1\n"
        '  return wrk.format("GET", paths[(n % #paths) + 1])\nend\n' + delay
    )
    return script


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", out)
        assert m is not None, out
        result[f"p{pct}"] = float(m.group(1)) * _UNITS[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def paced_run(
    url: str, root: Path, paths: list[str], target: float, args: argparse.Namespace
) -> dict[str, float]:
    """wrk with a per-connection pause sized so the offered rate is about `target`:
    a short probe measures how long a request takes at that pace, then the pause is
    set to (connections / target) minus that time."""
    connections = args.connections
    delay = max(1, round(connections * 1000 / target))
    probe = run_wrk(url, lua_script(root, paths, delay), connections, 3)
    per_request_ms = connections * 1000 / probe["rps"] - delay
    delay = max(1, round(connections * 1000 / target - per_request_ms))
    return run_wrk(url, lua_script(root, paths, delay), connections, args.duration)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and the worker processes it started (openssl -multi does not
    always take its children down with it)."""
    children = _children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serials", type=int, default=2000)
    parser.add_argument("--real", type=int, default=5, help="serials from full issuance")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")

    root = Path(tempfile.mkdtemp(prefix="certkeeper-ocsp-bench-"))
    try:
        t0 = time.perf_counter()
        ca, serials = build_home(root, args.serials, args.real)
        setup = time.perf_counter() - t0
        issuer = ca.inventory.issuer_by_name(ISSUER)
        paths = [
            "/" + enc.encode_get_path(enc.encode_request([enc.cert_id_for(issuer.cert_der, s)]))
            for s in serials
        ]
        index, ca_pem, rsigner, rkey = openssl_files(ca, root, serials)
        home = ca.config.home
        ca.close()
        peak_script = lua_script(root, paths, 0)
        env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}
        servers = {
            "certkeeper + granian": [
                sys.executable,
                "-m",
                "certkeeper",
                "serve",
                "ocsp",
                "--home",
                str(home),
                "--workers",
                str(args.workers),
                "--server",
                "granian",
            ],
            "certkeeper + uvicorn": [
                sys.executable,
                "-m",
                "certkeeper",
                "serve",
                "ocsp",
                "--home",
                str(home),
                "--workers",
                str(args.workers),
                "--server",
                "uvicorn",
            ],
            "openssl ocsp -multi": [
                "openssl",
                "ocsp",
                "-index",
                str(index),
                "-CA",
                str(ca_pem),
                "-rsigner",
                str(rsigner),
                "-rkey",
                str(rkey),
                "-ndays",
                "4",
                "-multi",
                str(args.workers),
                "-ignore_err",
                "-timeout",
                "1",
            ],
        }
        results: dict[str, dict[str, float]] = {}
        for name, cmd in servers.items():
            port = free_port()
            full = (
                [*cmd, "-port", str(port)] if cmd[0] == "openssl" else [*cmd, "--port", str(port)]
            )
            proc = subprocess.Popen(
                full, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                url = f"http://127.0.0.1:{port}"
                wait_ready(url + paths[0], proc)
                if cmd[0] != "openssl":
                    # warm caches and workers; openssl has neither, and its children do
                    # not recover from the connections a finished wrk run drops
                    run_wrk(url, peak_script, args.connections, 2)
                results[name] = run_wrk(url, peak_script, args.connections, args.duration)
                if name.startswith("certkeeper + granian"):
                    results[name + " @ half peak"] = paced_run(
                        url, root, paths, results[name]["rps"] / 2, args
                    )
            finally:
                stop(proc)

        print(
            f"\nOCSP responder benchmark: {len(serials)} serials ({args.real} fully issued), "
            f"P-256 responder, {args.workers} workers, wrk -t2 -c{args.connections} "
            f"{args.duration}s, {os.cpu_count()} cores shared by client and server; "
            f"setup {setup:.1f}s\n"
        )
        print(f"{'server':34} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for name, r in results.items():
            print(
                f"{name:34} {r['rps']:>10.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['non2xx']:>8.0f}"
            )
        ours = results["certkeeper + granian"]["rps"]
        theirs = results["openssl ocsp -multi"]["rps"]
        print(f"\ncertkeeper (granian) / openssl throughput: {ours / theirs:.2f}x (goal >= 1.5x)")
        uv = results["certkeeper + uvicorn"]["rps"]
        print(f"granian / uvicorn throughput: {ours / uv:.2f}x")
        paced = results["certkeeper + granian @ half peak"]
        print(
            f"p99 at {paced['rps']:.0f} req/s (about half of peak): {paced['p99']:.2f} ms "
            f"(goal < 10 ms)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
