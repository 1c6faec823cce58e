"""ACME orders/s with a real client: Debian's lego, one process per certificate, one
after another, against Pebble and against certkeeper in the same run.

Each order is what an operator's cron job does: `lego run` for a fresh name (a new
process, the account registered on its first run, an http-01 challenge served by lego
itself, the certificate downloaded and written). The servers are those of
benchmarks/acme.py: Pebble without validation (PEBBLE_VA_ALWAYS_VALID), certkeeper with
real http-01 validation over loopback, CAA through pebble-challtestsrv, both linters
and SCTs from two loopback CT logs at finalize.

    .venv/bin/python benchmarks/acme_real_clients.py [--orders N] [--database sqlite|postgres]

Prints one table: orders/s and p50/p90 seconds per order, and certkeeper's rate as a
fraction of Pebble's (issue 12 asks for it; the whole-order time includes lego's own
start, key generation and file writes, which both servers share).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acme import BENCH_DOMAIN, Target, certkeeper, pebble

LEGO = "/usr/bin/lego"


def one_order(target: Target, state: Path, name: str, env: dict[str, str]) -> float:
    """Seconds for `lego run` to get a certificate for `name`; raises on failure."""
    port = target.challenge_port or 5002  # pebble does not validate; lego still listens
    args = [
        LEGO, "--path", str(state), "--server", target.directory,
        "--email", "bench@example.com", "--accept-tos", "--key-type", "ec256",
        "--http", "--http.port", f"127.0.0.1:{port}", "--domains", name, "run",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"lego failed for {name}: {done.stderr.strip()[-500:]}")
    return took


def run(
    target: Target, orders: int, prefix: str, workdir: Path, ca_file: Path | None
) -> list[float]:
    env = dict(os.environ)
    if ca_file is not None:
        env["LEGO_CA_CERTIFICATES"] = str(ca_file)
    state = workdir / f"lego-{prefix}"
    one_order(target, state, f"warm-{prefix}.{BENCH_DOMAIN}", env)  # account, caches
    return [one_order(target, state, f"{prefix}{i}.{BENCH_DOMAIN}", env) for i in range(orders)]


def row(label: str, took: list[float], width: int) -> str:
    ordered = sorted(took)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{label:<{width}} {len(took):>6} {len(took) / sum(took):>9.2f} "
        f"{statistics.median(took):>8.3f} {p90:>8.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20, help="certificates per server")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not Path(LEGO).is_file():
        sys.exit("lego is not installed (scripts/setup.sh installs Debian's lego)")
    workdir = Path(tempfile.mkdtemp(prefix="acme-real-"))
    results: list[tuple[str, list[float]]] = []
    try:
        with pebble(workdir) as target:
            results.append(
                (target.label, run(target, args.orders, "p", workdir, workdir / "tls.pem"))
            )
        with certkeeper(workdir, args.workers, args.database, "granian", False) as target:
            results.append((target.label, run(target, args.orders, "c", workdir, None)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(label) for label, _ in results)
    print("\nACME orders with lego (one `lego run` per certificate, sequential)")
    header = f"{'server':<{width}} {'orders':>6} {'orders/s':>9} {'p50 s':>8} {'p90 s':>8}"
    print(header)
    print("-" * len(header))
    for label, took in results:
        print(row(label, took, width))
    (_, pebble_took), (_, ours) = results
    ratio = (len(ours) / sum(ours)) / (len(pebble_took) / sum(pebble_took))
    print(f"certkeeper / Pebble: {ratio:.2f} of Pebble's rate")


if __name__ == "__main__":
    main()
