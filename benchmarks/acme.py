"""ACME throughput: completed orders per second, new order to downloaded certificate.

The same client load (benchmarks/acme_client.py: N concurrent accounts on one event
loop, each running its orders one after another) against:

  pebble          Debian's pebble with PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1
                  (no validation at all: the protocol and issuance cost only);
  certkeeper      `certkeeper serve acme` with real http-01 validation on loopback (our
                  challenge server answers the VA), CAA looked up in a real DNS server
                  (pebble-challtestsrv), and the full two-linter gate at finalize,
                  with SCTs from two loopback RFC 6962 logs (`certkeeper ct serve-log`)
                  embedded in every certificate, as a public home requires.

    .venv/bin/python benchmarks/acme.py [--clients N] [--orders M] [--names K]
                                        [--only pebble|certkeeper] [--workers W]
                                        [--database postgres|sqlite] [--server granian|uvicorn]
                                        [--mpic]

Pebble also refuses no nonce (PEBBLE_WFE_NONCEREJECT=0) and reuses no authorization
(PEBBLE_AUTHZREUSE=0), so both servers do the same protocol work per order. One untimed
order per client warms both servers up first.

Prints one table: orders/s and p50/p99 latency of a whole order and of each phase.
Goal (issue 7): certkeeper at least Pebble's throughput with the full gate on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from acme_client import AcmeClient, AcmeError, ChallengeServer, Issued
from loopback_ct import name_logs, serve_logs

PEBBLE = "/usr/bin/pebble"
ROOT = Path(__file__).resolve().parents[1]
CERTKEEPER = ROOT / ".venv" / "bin" / "certkeeper"
PASSPHRASE = "benchmark passphrase"
BENCH_DOMAIN = "acme-bench.com"


@dataclass
class Target:
    label: str
    directory: str
    tls: ssl.SSLContext | None
    challenge_port: int | None  # where the server's VA connects for http-01; None: no VA


@dataclass
class Result:
    label: str
    orders: int
    failed: int
    seconds: float
    latencies: list[Issued]
    first_error: str
    requests: int  # HTTP requests sent during the timed part


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, context: ssl.SSLContext | None, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def self_signed_tls(directory: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A localhost certificate for pebble's HTTPS endpoint, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.pem", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(cafile=str(cert_path))
    return cert_path, key_path, context


@contextlib.contextmanager
def pebble(workdir: Path) -> Iterator[Target]:
    """Debian's pebble, validation off and no artificial sleeps, nonces never refused."""
    cert, key, context = self_signed_tls(workdir)
    port, management = free_port(), free_port()
    config = workdir / "pebble.json"
    config.write_text(
        "{"
        + f'"pebble": {{"listenAddress": "127.0.0.1:{port}",'
        + f'"managementListenAddress": "127.0.0.1:{management}",'
        + f'"certificate": "{cert}", "privateKey": "{key}",'
        + '"httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "",'
        + '"externalAccountBindingRequired": false}'
        + "}"
    )
    env = dict(
        os.environ,
        PEBBLE_VA_ALWAYS_VALID="1",
        PEBBLE_VA_NOSLEEP="1",
        PEBBLE_WFE_NONCEREJECT="0",
        PEBBLE_AUTHZREUSE="0",
    )
    log = (workdir / "pebble.log").open("wb")
    proc = subprocess.Popen(
        [PEBBLE, "-config", str(config), "-strict=false"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        directory = f"https://127.0.0.1:{port}/dir"
        wait_http(directory, context, proc)
        yield Target("pebble (PEBBLE_VA_ALWAYS_VALID)", directory, context, None)
    finally:
        stop(proc)
        log.close()


def make_csr(names: list[str]) -> bytes:
    """A subscriber CSR with a fresh P-256 key, as a client makes for each certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(sans, critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


async def run_load(
    target: Target, clients: int, orders: int, names: int, domain: str, run: str
) -> Result:
    """`clients` accounts, each running `orders` orders back to back, all concurrently."""

    async with contextlib.AsyncExitStack() as stack:
        challenges = None
        if target.challenge_port is not None:
            challenges = await stack.enter_async_context(
                ChallengeServer(port=target.challenge_port)
            )
        return await _load(target, challenges, clients, orders, names, domain, run)


async def _load(
    target: Target,
    challenges: ChallengeServer | None,
    clients: int,
    orders: int,
    names: int,
    domain: str,
    run: str,
) -> Result:
    async def no_validation(kind: str, name: str, token: str, key_auth: str) -> None:
        return None

    respond = challenges.respond if challenges else no_validation
    accounts = [AcmeClient(target.directory, tls=target.tls, timeout=120) for _ in range(clients)]
    for number, client in enumerate(accounts):
        await client.start()
        await client.register([f"mailto:bench{number}@{domain}"])
    work = [
        [[f"{run}-c{c}-o{o}-n{n}.{domain}" for n in range(names)] for o in range(orders)]
        for c in range(clients)
    ]
    csrs = [[make_csr(order) for order in per_client] for per_client in work]
    # Warm-up, untimed: one order per client loads the linters and fills every
    # process's caches (a long-running server has them warm).
    await asyncio.gather(
        *(
            client.issue(
                [f"{run}-warm{c}.{domain}"], make_csr([f"{run}-warm{c}.{domain}"]), respond
            )
            for c, client in enumerate(accounts)
        )
    )
    issued: list[Issued] = []
    errors: list[str] = []

    async def one_client(index: int) -> None:
        client = accounts[index]
        for order_names, csr in zip(work[index], csrs[index], strict=True):
            try:
                issued.append(await client.issue(order_names, csr, respond))
            except (AcmeError, OSError) as exc:
                errors.append(str(exc))

    sent = sum(client.requests for client in accounts)
    start = time.perf_counter()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    seconds = time.perf_counter() - start
    sent = sum(client.requests for client in accounts) - sent
    for client in accounts:
        await client.close()
    first_error = errors[0] if errors else ""
    return Result(target.label, len(issued), len(errors), seconds, issued, first_error, sent)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def print_table(results: list[Result], clients: int, names: int) -> None:
    print()
    print(f"ACME orders, {clients} concurrent clients, {names} name(s) per order")
    width = max(len(r.label) for r in results)
    header = (
        f"{'server':<{width}} {'orders':>6} {'failed':>6} {'orders/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'p50 authz':>9} {'p50 final':>9} {'req/order':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        totals = [i.timings.total * 1000 for i in r.latencies]
        authz = [i.timings.validation * 1000 for i in r.latencies]
        final = [i.timings.finalize * 1000 for i in r.latencies]
        rate = r.orders / r.seconds if r.seconds else 0.0
        print(
            f"{r.label:<{width}} {r.orders:>6} {r.failed:>6} {rate:>9.1f} "
            f"{quantile(totals, 0.5):>8.1f} {quantile(totals, 0.99):>8.1f} "
            f"{quantile(authz, 0.5):>9.1f} {quantile(final, 0.5):>9.1f} "
            f"{r.requests / max(r.orders, 1):>9.1f}"
        )
    for r in results:
        if r.first_error:
            print(f"{r.label}: first failure: {r.first_error}")
    sys.stdout.flush()


@contextlib.contextmanager
def certkeeper(
    workdir: Path, workers: int, database: str, server: str, mpic: bool
) -> Iterator[Target]:
    """`certkeeper serve acme` with real validation: http-01 over loopback to our
    challenge server, CAA through pebble-challtestsrv, both linters at finalize; with
    `mpic`, four remote perspectives (`serve va-remote`, mTLS) corroborate every
    challenge and CAA check, as BR 3.2.2.9 requires in production."""
    from certkeeper.ca.home import InitOptions, create_home
    from dnsserver import ChallTestSrv
    from integration.acme_env import make_perspectives

    with contextlib.ExitStack() as stack:
        url = None
        if database == "postgres":
            from pgserver import PostgresServer

            url = stack.enter_context(PostgresServer()).create_database("acmebench")
        dns = stack.enter_context(ChallTestSrv.start())
        dns.set_default_ipv6("")  # every name: 127.0.0.1 only, where our responder listens
        home = workdir / "home"
        create_home(home, InitOptions(database_url=url), PASSPHRASE.encode())
        # a public home issues only with SCTs: two loopback logs of distinct operators
        (workdir / "ct").mkdir(exist_ok=True)
        name_logs(home, stack.enter_context(serve_logs(home / "certs/root.pem", workdir / "ct", 2)))
        port, http_port = free_port(), free_port()
        env = dict(os.environ, CERTKEEPER_PASSPHRASE=PASSPHRASE)
        mpic_config = "mpic_required = false\n"
        if mpic:
            perspectives = make_perspectives(home / "mtls", workdir, dns, http_port, free_port())
            mpic_config = (
                'mpic_required = true\nmpic_client_cert = "mtls/primary.pem"\n'
                'mpic_client_key = "mtls/primary.key"\nmpic_ca_file = "mtls/ca.pem"\n'
            )
            for perspective in perspectives:
                perspective.start(env)
                stack.callback(perspective.stop)
            for perspective in perspectives:
                perspective.wait()
        config = home / "certkeeper.toml"
        config.write_text(
            config.read_text()
            + f"""
[validation]
http_port = {http_port}
resolver = "{dns.address}"
private_addresses = true
# pebble-challtestsrv signs nothing: DNSSEC lookups are measured by validation.py --dnssec
dnssec_check = false
caa_identities = ["ca.certkeeper.test"]
{mpic_config}
[acme]
# Limits sized for the load, not switched off: every order still counts against them.
accounts_per_ip_per_3_hours = 100000
orders_per_account_per_hour = 100000
certificates_per_domain_per_week = 100000
"""
            + "".join(
                f'\n[[validation.perspectives]]\nname = "{p.name}"\n'
                f'region = "{p.region}"\nurl = "{p.url}"\n'
                for p in (perspectives if mpic else [])
            )
        )
        log = stack.enter_context((workdir / "certkeeper.log").open("wb"))
        proc = subprocess.Popen(
            [str(CERTKEEPER), "serve", "acme", "--home", str(home), "--port", str(port),
             "--workers", str(workers), "--server", server],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack.callback(stop, proc)
        directory = f"http://127.0.0.1:{port}/acme/directory"
        wait_http(directory, None, proc)
        gate = "pkilint on" if _pkilint_on(config.read_text()) else "pkilint OFF"
        checks = "http-01, CAA" + (", 4 perspectives" if mpic else "")
        label = f"certkeeper ({server}, {database}, {workers}w, {checks}, {gate})"
        yield Target(label, directory, None, http_port)


def _pkilint_on(config_text: str) -> bool:
    import tomllib

    return bool(tomllib.loads(config_text).get("issuance", {}).get("pkilint", True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent ACME accounts")
    parser.add_argument("--orders", type=int, default=25, help="orders per client")
    parser.add_argument("--names", type=int, default=1, help="DNS names per order")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=("pebble", "certkeeper"), default=None)
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    parser.add_argument(
        "--mpic", action="store_true",
        help="certkeeper with four remote perspectives (serve va-remote over mTLS)",
    )  # fmt: skip
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default="postgres",
        help="certkeeper's inventory (postgres: a throwaway server started here)",
    )  # fmt: skip
    args = parser.parse_args()
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="acme-bench-"))
    try:
        if args.only in (None, "pebble"):
            with pebble(workdir) as target:
                results.append(
                    asyncio.run(
                        run_load(target, args.clients, args.orders, args.names, "example.com", "p")
                    )
                )
            print_table(results, args.clients, args.names)
        if args.only in (None, "certkeeper"):
            with certkeeper(workdir, args.workers, args.database, args.server, args.mpic) as target:
                results.append(
                    asyncio.run(
                        run_load(target, args.clients, args.orders, args.names, BENCH_DOMAIN, "c")
                    )
                )
            print_table(results, args.clients, args.names)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
