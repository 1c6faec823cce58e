"""MPIC cost: what remote corroboration adds to each validation and each CAA check.

Starts N `certkeeper serve va-remote` processes on their own loopback addresses (mutual
TLS 1.3, granian), a real DNS server (pebble-challtestsrv) and an http-01 responder,
then times `RemotePerspectives.corroborate_challenge` / `corroborate_caa` (every
perspective asked at once, each doing its own lookups and connections) from C threads.

    .venv/bin/python benchmarks/mpic.py [--perspectives 2 5] [--threads 1 8] [--calls 200]

Prints one table: corroborations per second and p50/p99 latency per kind.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from certkeeper.validation.challenges import key_authorization_digest
from certkeeper.validation.model import ChallengeAttempt, Corroboration
from certkeeper.validation.mpic import RemotePerspectives
from certkeeper.validation.quorum import PHASES
from dnsserver import ChallTestSrv
from validation.mpic_helpers import (
    ChallengeHttpServer,
    Network,
    RemoteProcess,
    make_pki,
    primary_settings,
    start_remote,
    stop_all,
)

REGIONS = ("ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC", "ARIN", "RIPE", "APNIC")
BASE = "bench.example.com"


def measure(calls: int, threads: int, one: Callable[[int], Corroboration]) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    failures = 0

    def timed(i: int) -> None:
        nonlocal failures
        began = time.perf_counter()
        result = one(i)
        took = time.perf_counter() - began
        with lock:
            latencies.append(took)
            failures += 0 if result.passed else 1

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(timed, range(calls)))
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "per_s": calls / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failed": failures,
    }


def day_for(n: int) -> date:
    """The latest day whose BR 3.2.2.9 minimum n perspectives still meet."""
    days: list[date] = [p.effective for p in PHASES if p.minimum_remote <= n]
    return max(days)


def corroborations(
    client: RemotePerspectives, attempts: dict[str, list[ChallengeAttempt]], names: list[str]
) -> dict[str, Callable[[int], Corroboration]]:
    def caa(i: int) -> Corroboration:
        return client.corroborate_caa(
            names[i], wildcard=False, account_uri="https://ca.example/acct/1", method="dns-01"
        )

    return {
        "http-01": lambda i: client.corroborate_challenge(attempts["http-01"][i]),
        "dns-01": lambda i: client.corroborate_challenge(attempts["dns-01"][i]),
        "caa": caa,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perspectives", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    most = max(args.perspectives)
    network = Network(use_netns=False)
    sites = [network.add_site() for _ in range(most)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ChallTestSrv.start() as dns:
        http = ChallengeHttpServer("127.0.0.1")
        pki = make_pki(Path(tmp), {f"p{s.index}": [s.address] for s in sites})
        dns.add_caa(BASE, [("issue", "ca.example")])
        remotes: list[RemoteProcess] = [
            start_remote(
                f"p{s.index}", REGIONS[s.index], s, pki, resolver=dns.address,
                http_port=http.port, wait=False, timeout=10,
            )
            for s in sites
        ]  # fmt: skip
        try:
            for remote in remotes:
                remote.wait_ready()
            names = [f"n{i}.{BASE}" for i in range(args.calls)]
            for name in names:
                dns.add_a(name, ["127.0.0.1"])
            for n in args.perspectives:
                settings = primary_settings(
                    pki, remotes[:n], resolver=dns.address, http_port=http.port, timeout=10
                )
                at = datetime.combine(day_for(n), datetime.min.time(), UTC)
                client = RemotePerspectives(settings, clock=lambda at=at: at)  # type: ignore[misc]
                attempts: dict[str, list[ChallengeAttempt]] = {"http-01": [], "dns-01": []}
                for kind, batch in attempts.items():
                    for name in names:
                        token = secrets.token_urlsafe(32)
                        attempt = ChallengeAttempt(
                            name, kind, token, f"{token}.{secrets.token_urlsafe(32)}",
                            "https://ca.example/acct/1",
                        )  # fmt: skip
                        http.answers[token] = attempt.key_authorization
                        batch.append(attempt)
                for name, attempt in zip(names, attempts["dns-01"], strict=True):
                    dns.set_txt(
                        f"_acme-challenge.{name}",
                        key_authorization_digest(attempt.key_authorization),
                    )
                kinds = corroborations(client, attempts, names)
                for threads in args.threads:
                    for kind, one in kinds.items():
                        one(0)  # warm-up
                        result = measure(args.calls, threads, one)
                        rows.append((n, threads, kind, result))
                        print(
                            f"{n:>3} perspectives  {threads:>2} threads  {kind:<8} "
                            f"{result['per_s']:8.1f}/s  p50 {result['p50_ms']:7.1f} ms  "
                            f"p99 {result['p99_ms']:7.1f} ms  failed {result['failed']:.0f}",
                            flush=True,
                        )
                client.close()
        finally:
            stop_all(remotes)
            http.close()
    print()
    print("| perspectives | threads | kind | corroborations/s | p50 ms | p99 ms | failed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, threads, kind, r in rows:
        print(
            f"| {n} | {threads} | {kind} | {r['per_s']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['failed']:.0f} |"
        )


if __name__ == "__main__":
    main()
