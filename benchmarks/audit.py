"""Status coverage audit throughput: `certkeeper audit coverage` over a million serials
against our own responder on this machine, beside `openssl ocsp` asking the same
responder about a sample.

    .venv/bin/python benchmarks/audit.py [--serials 1000000] [--server-workers 2]
                                         [--client-workers 2] [--openssl-sample 200]

Goal (issue 6): at least 5,000 serials per second.

The CA home is built once and cached (`--cache DIR`, default under the system temp
directory) while its responses are fresh: a million serials, each with a pre-signed
OCSP response (signed by the delegated responder key in worker processes, from the
same `ResponseTemplate` issuance uses, and stored as issuance stores them), 0.1 %
of them revoked (revocation row and revoked response), and every CRL shard published.
The responder is `certkeeper serve` (granian) on a free loopback port; the audit is
the real command (`certkeeper audit coverage --format json`), so the time includes
loading a million inventory rows and every CRL shard. Client and server share the
same cores (and the machine's other jobs): the table prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import insert

from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import ocsp_responses, revocations, serials
from certkeeper.wiring import build as build_ca
from certkeeper.x509.ocsp import UNAUTHORIZED, ResponseTemplate, Revocation
from certkeeper.x509.signer import Signer

PASSPHRASE = "benchmark"
ISSUER = "tls-ecdsa-1"
RESPONDER = "ocsp-ecdsa-1"
REVOKED_EVERY = 1000  # 0.1 % revoked
CHUNK = 10_000
FRESH_FOR = timedelta(days=2)  # rebuild a cached home whose responses are older

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ocsp_responder import free_port, stop, wait_ready  # noqa: E402

_state: dict[str, object] = {}


def _init(home: str) -> None:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    ca = CaHome.open(Path(home))
    issuer = ca.inventory.issuer_by_name(ISSUER)
    responder = ca.inventory.issuer_by_name(RESPONDER)
    signer = ca.signer(responder)
    _state["signer"] = signer
    _state["template"] = ResponseTemplate.create(
        issuer.cert_der, responder.cert_der, signer.spec.algorithm_identifier()
    )


def _sign(args: tuple[int, datetime]) -> list[tuple[int, bytes, bool]]:
    """`count` new serials, each with its signed response; every REVOKED_EVERY-th revoked."""
    count, now = args
    template = cast(ResponseTemplate, _state["template"])
    signer = cast(Signer, _state["signer"])
    numbers = [new_serial() for _ in range(count)]
    revoked = set(numbers[::REVOKED_EVERY])
    good = [s for s in numbers if s not in revoked]
    gone = sorted(revoked)
    later = now + timedelta(days=4)
    signed_good = template.sign_many(
        signer, good, this_update=now, next_update=later, produced_at=now
    )
    signed_gone = template.sign_many(
        signer,
        gone,
        this_update=now,
        next_update=later,
        produced_at=now,
        revocation=Revocation(now - timedelta(hours=1), 4),
    )
    out = [(s, d, False) for s, d in zip(good, signed_good, strict=True)]
    out += [(s, d, True) for s, d in zip(gone, signed_gone, strict=True)]
    return out


def build(home_dir: Path, count: int, workers: int) -> float:
    started = time.perf_counter()
    if home_dir.exists():
        shutil.rmtree(home_dir)
    create_home(home_dir, InitOptions(), PASSPHRASE.encode())
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    ca = CaHome.open(home_dir)
    issuer = ca.inventory.issuer_by_name(ISSUER)
    shards = ca.config.crl_shards
    version = ca.profiles.get("tls-dv-ecdsa").version
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + timedelta(days=90)
    jobs = [(min(CHUNK, count - i), now) for i in range(0, count, CHUNK)]
    ca.inventory.engine.dispose()
    done = 0
    with multiprocessing.get_context("fork").Pool(
        workers, initializer=_init, initargs=(str(home_dir),)
    ) as pool:
        for signed in pool.imap_unordered(_sign, jobs):
            with write_transaction(ca.inventory.engine) as conn:
                conn.execute(
                    insert(serials),
                    [
                        {
                            "serial": serial_hex(s),
                            "issuer_id": issuer.id,
                            "assigned_at": now,
                            "state": "issued",
                            "profile_id": "tls-dv-ecdsa",
                            "profile_version": version,
                            "crl_shard": shard_for(s, shards),
                            "failure": None,
                        }
                        for s, _, _ in signed
                    ],
                )
                conn.execute(
                    insert(ocsp_responses),
                    [
                        {
                            "serial": serial_hex(s),
                            "issuer_id": issuer.id,
                            "status": "revoked" if gone else "good",
                            "der": der,
                            "produced_at": now,
                            "this_update": now,
                            "next_update": now + timedelta(days=4),
                            "not_after": not_after,
                        }
                        for s, der, gone in signed
                    ],
                )
                rows = [
                    {
                        "serial": serial_hex(s),
                        "issuer_id": issuer.id,
                        "crl_shard": shard_for(s, shards),
                        "revoked_at": now - timedelta(hours=1),
                        "reason": 4,
                        "not_after": not_after,
                        "incident_id": None,
                        "evidence": None,
                        "recorded_at": now,
                    }
                    for s, _, gone in signed
                    if gone
                ]
                if rows:
                    conn.execute(insert(revocations), rows)
            done += len(signed)
            print(f"\r  building: {done:,}/{count:,} serials", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    build_ca(ca).crl.publish(ca.config.crl_dir, now)
    ca.close()
    (home_dir / "benchmark.json").write_text(
        json.dumps({"serials": count, "built_at": now.isoformat()})
    )
    return time.perf_counter() - started


def cached_home(cache: Path, count: int, workers: int) -> tuple[Path, float | None]:
    home = cache / f"audit-{count}" / "home"
    marker = home / "benchmark.json"
    if marker.exists():
        meta = json.loads(marker.read_text())
        built = datetime.fromisoformat(meta["built_at"])
        if meta["serials"] == count and datetime.now(UTC) - built < FRESH_FOR:
            return home, None
    return home, build(home, count, workers)


def openssl_rate(home: Path, url: str, sample: int) -> float:
    """`openssl ocsp` asking about `sample` serials, one process per serial (it sends
    one CertID per request to our responder, as RFC 5019 clients do)."""
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    ca = CaHome.open(home)
    issuer = ca.inventory.issuer_by_name(ISSUER)
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    tmp = Path(tempfile.mkdtemp(prefix="certkeeper-audit-openssl-"))
    try:
        pem = tmp / "issuer.pem"
        pem.write_bytes(
            x509.load_der_x509_certificate(issuer.cert_der).public_bytes(serialization.Encoding.PEM)
        )
        from certkeeper.store.status_audit import iter_assigned

        picked = []
        for row in iter_assigned(ca.inventory.engine, datetime.now(UTC), page=sample):
            picked.append(row.serial)
            if len(picked) >= sample:
                break
        ca.close()
        started = time.perf_counter()
        for serial in picked:
            subprocess.run(
                [
                    "openssl",
                    "ocsp",
                    "-issuer",
                    str(pem),
                    "-serial",
                    "0x" + serial,
                    "-url",
                    url,
                    "-noverify",
                ],
                capture_output=True,
                check=True,
                timeout=30,
            )
        return len(picked) / (time.perf_counter() - started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _MemoryResponder:
    """A stand-in responder: the same pre-signed DER, from a dict keyed by the request
    bytes, over raw HTTP/1.1 with keep-alive and pipelining. It isolates the audit
    client's own ceiling from the cost of our responder's database lookups."""

    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
                body = self.answers.get(await reader.readexactly(length), UNAUTHORIZED)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                    b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def serve_memory(home: Path, port: int, limit: int) -> None:
    """Run the stand-in responder over the first `limit` serials (a subprocess)."""
    from sqlalchemy import select

    from certkeeper.audit.ocsp_client import run_loop
    from certkeeper.audit.ocsp_request import RequestTemplate

    ca = CaHome.open(home)
    issuer = ca.inventory.issuer_by_name(ISSUER)
    template = RequestTemplate.for_issuer(ISSUER, issuer.cert_der)
    with ca.inventory.engine.connect() as conn:
        rows = conn.execute(
            select(ocsp_responses.c.serial, ocsp_responses.c.der)
            .order_by(ocsp_responses.c.serial)
            .limit(limit)
        ).all()
    answers = {template.request(int(s, 16)): bytes(d) for s, d in rows}
    ca.close()

    async def main() -> None:
        server = await asyncio.start_server(
            _MemoryResponder(answers).serve, "127.0.0.1", port, limit=1 << 16
        )
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):  # stop() ends it with SIGINT
        run_loop(main())


def client_ceiling(home: Path, args: argparse.Namespace) -> dict[str, float]:
    """The audit's own pipeline (fetch, walk, lint, classify) over `--ceiling-serials`
    serials against the in-memory stand-in responder."""
    from certkeeper.audit.coverage import ClientOptions, audit_coverage, home_targets

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-memory",
            str(port),
            "--cache",
            str(args.cache),
            "--serials",
            str(args.serials),
            "--ceiling-serials",
            str(args.ceiling_serials),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/ocsp"
        deadline = time.monotonic() + 600
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the in-memory responder did not start") from None
                time.sleep(0.5)
        ca = CaHome.open(home)
        now = datetime.now(UTC).replace(microsecond=0)
        targets = home_targets(ca.stores.inventory, ca.config.base_url, None, now, url)
        ca.close()
        items = sorted(targets.by_url[url], key=lambda t: t.hex)[: args.ceiling_serials]
        targets.by_url[url] = items
        report = audit_coverage(
            targets,
            now,
            client=ClientOptions(connections=args.connections, pipeline=args.pipeline),
            workers=args.client_workers,
        )
        s = report.summary()
        return {
            "serials": s["serials"],
            "seconds": s["seconds"],
            "rate": s["serials_per_second"],
            "findings": s["findings"],
        }
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--client-workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pipeline", type=int, default=16)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--openssl-sample", type=int, default=200)
    parser.add_argument("--build-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "certkeeper-bench"
    )
    parser.add_argument(
        "--ceiling-serials",
        type=int,
        default=100_000,
        help="serials for the client-ceiling row (in-memory responder); 0 to skip",
    )
    parser.add_argument("--serve-memory", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_memory:
        serve_memory(
            args.cache / f"audit-{args.serials}" / "home", args.serve_memory, args.ceiling_serials
        )
        return

    home, build_seconds = cached_home(args.cache, args.serials, args.build_workers)
    port = free_port()
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--workers",
            str(args.server_workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/health", server)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "certkeeper",
                "audit",
                "coverage",
                "--home",
                str(home),
                "--ocsp",
                base + "/ocsp",
                "--format",
                "json",
                "--workers",
                str(args.client_workers),
                "--connections",
                str(args.connections),
                "--pipeline",
                str(args.pipeline),
                "--probes",
                str(args.probes),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        if proc.returncode not in (0, 1):
            sys.exit(f"audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        peer = (
            openssl_rate(home, base + "/ocsp", args.openssl_sample)
            if shutil.which("openssl") and args.openssl_sample
            else None
        )
    finally:
        stop(server)
    ceiling = client_ceiling(home, args) if args.ceiling_serials else None

    s = report["summary"]
    asked = s["serials"] + s["probes"]
    print(
        f"\nStatus coverage audit: {s['serials']:,} serials + {s['probes']:,} probes, "
        f"server granian x{args.server_workers}, client x{args.client_workers} processes "
        f"({args.connections} connections x {args.pipeline} pipelined), {os.cpu_count()} cores "
        f"shared, load average {load_before:.1f} -> {load_after:.1f}"
        + (f"; home built in {build_seconds:.0f} s" if build_seconds else "; cached home")
        + "\n"
    )
    print(f"{'measure':46} {'serials':>10} {'seconds':>9} {'serials/s':>10} {'findings':>9}")
    print(
        f"{'certkeeper audit coverage: OCSP+lint+classify':46} {asked:>10,} "
        f"{s['seconds']:>9.1f} {s['serials_per_second']:>10,.0f} {s['findings']:>9}"
    )
    print(
        f"{'  whole command (+ inventory rows, CRLs)':46} {asked:>10,} {wall:>9.1f} "
        f"{asked / wall:>10,.0f} {s['findings']:>9}"
    )
    if ceiling is not None:
        print(
            f"{'  same client, in-memory stand-in responder':46} {ceiling['serials']:>10,.0f} "
            f"{ceiling['seconds']:>9.1f} {ceiling['rate']:>10,.0f} {ceiling['findings']:>9.0f}"
        )
    if peer is not None:
        print(
            f"{'openssl ocsp, one process per serial':46} {args.openssl_sample:>10,} "
            f"{args.openssl_sample / peer:>9.1f} {peer:>10,.0f} {'-':>9}"
        )
    print(
        f"\nOCSP answers: {s['ocsp_answers']}; CRL shards {s['crls_loaded']} "
        f"({s['crl_entries']:,} entries); lint full runs {s['lint_full_runs']}, "
        f"from shape cache {s['lint_cached']:,}; HTTP retries {s['http_retries']}"
    )
    goal = 5000
    verdict = "meets" if s["serials_per_second"] >= goal else "BELOW"
    print(f"goal >= {goal:,} serials/s: {verdict}")


if __name__ == "__main__":
    main()
