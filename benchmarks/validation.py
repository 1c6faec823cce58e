"""Validation authority throughput: one perspective's checks over loopback.

Each check builds its own resolver and connections (no cache, as BR 3.2.2.9 requires),
so this measures the real per-check cost: DNS round trips to a real DNS server
(pebble-challtestsrv) and an HTTP exchange with a loopback server.

    .venv/bin/python benchmarks/validation.py [--checks N] [--threads T] [--dnssec]

Prints one table: checks per second and p50/p99 latency for dns-01, http-01 and a CAA
check whose relevant RRset is three labels up (four lookups), sequentially and with T
threads. With --dnssec every lookup goes through Debian's unbound validating a signed
test hierarchy (tests/signed_zones.py: ldns-signzone, knotd), as in production: dns-01
and http-01 at www.ok13.zones.example.com (algorithm 13), and CAA from there up to com
(five secure lookups).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.caa import check_caa
from certkeeper.validation.challenges import check_challenge, key_authorization_digest
from certkeeper.validation.model import ChallengeAttempt
from dnsserver import ChallTestSrv
from signed_zones import DNS01_KEY_AUTHORIZATION, DNS01_TOKEN, SignedZones

ACCOUNT = "https://ca.example/acme/acct/1"


def serve_key_authorizations() -> tuple[ThreadingHTTPServer, int]:
    """Answers /.well-known/acme-challenge/<token> with "<token>.thumb"."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            token = self.path.rsplit("/", 1)[-1].encode()
            body = token + b".thumb"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


def measure(check: Callable[[int], bool], n: int, threads: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        start = time.perf_counter()
        if not check(i):
            raise SystemExit(f"check {i} failed")
        with lock:
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    if threads == 1:
        for i in range(n):
            one(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return n / elapsed, statistics.median(latencies) * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--dnssec", action="store_true")
    args = parser.parse_args()

    server, port = serve_key_authorizations()
    if args.dnssec:
        rows = run_dnssec(args.checks, args.threads, port)
        server.shutdown()
        report(rows)
        return
    with ChallTestSrv.start() as dns:
        dns.set_default_ipv6("")
        settings = ValidationSettings(
            http_port=port,
            resolver=dns.address,
            timeout_seconds=5,
            caa_identities=("ca.example",),
            mpic_required=False,
            private_addresses=True,
        )
        base = f"b{uuid.uuid4().hex[:8]}.example.com"
        dns.add_caa(base, [("issue", f"ca.example; accounturi={ACCOUNT}")])
        tokens = [uuid.uuid4().hex for _ in range(args.checks)]
        for i, token in enumerate(tokens):
            dns.set_txt(f"_acme-challenge.d{i}.{base}", key_authorization_digest(f"{token}.thumb"))

        def dns01(i: int) -> bool:
            a = ChallengeAttempt(f"d{i}.{base}", "dns-01", tokens[i], f"{tokens[i]}.thumb", ACCOUNT)
            return check_challenge(a, settings).ok

        def http01(i: int) -> bool:
            a = ChallengeAttempt(
                f"h{i}.{base}", "http-01", tokens[i], f"{tokens[i]}.thumb", ACCOUNT
            )
            return check_challenge(a, settings).ok

        def caa(i: int) -> bool:
            name = f"a.b.c{i}.{base}"
            result = check_caa(
                name, wildcard=False, account_uri=ACCOUNT, method="http-01", settings=settings
            )
            return result.allowed

        checks = (("dns-01", dns01), ("http-01", http01), ("CAA (4 lookups)", caa))
        rows = measure_all(checks, args.checks, args.threads)
    server.shutdown()
    report(rows)


Row = tuple[str, int, float, float, float]


def report(rows: list[Row]) -> None:
    print(f"{'check':<18}{'threads':>8}{'checks/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
    for label, threads, rate, p50, p99 in rows:
        print(f"{label:<18}{threads:>8}{rate:>11.1f}{p50:>9.1f}{p99:>9.1f}")


def run_dnssec(checks: int, threads: int, port: int) -> list[Row]:
    with SignedZones.start() as zones:
        settings = ValidationSettings(
            http_port=port,
            resolver=zones.resolver,
            timeout_seconds=5,
            caa_identities=("ca.certkeeper.example",),
            mpic_required=False,
            private_addresses=True,
        )
        name = SignedZones.name("ok13")
        token = DNS01_TOKEN

        def dns01(i: int) -> bool:
            a = ChallengeAttempt(name, "dns-01", token, DNS01_KEY_AUTHORIZATION, ACCOUNT)
            result = check_challenge(a, settings)
            return result.ok and result.dnssec == "secure"

        def http01(i: int) -> bool:
            t = f"t{i}"
            a = ChallengeAttempt(name, "http-01", t, f"{t}.thumb", ACCOUNT)
            result = check_challenge(a, settings)
            return result.ok and result.dnssec == "secure"

        def caa(i: int) -> bool:
            result = check_caa(
                name, wildcard=False, account_uri=ACCOUNT, method="http-01", settings=settings
            )
            return result.allowed and result.dnssec == "secure"

        named = (("dns-01 DNSSEC", dns01), ("http-01 DNSSEC", http01), ("CAA DNSSEC (5)", caa))
        rows = measure_all(named, checks, threads)
    return rows


def measure_all(
    checks: tuple[tuple[str, Callable[[int], bool]], ...], n: int, threads: int
) -> list[Row]:
    """Each check n times, sequentially and with `threads` threads."""
    rows: list[Row] = []
    for label, check in checks:
        for n_threads in (1, threads):
            rate, p50, p99 = measure(check, n, n_threads)
            rows.append((label, n_threads, rate, p50, p99))
            print(f"  measured {label} x{n_threads}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
