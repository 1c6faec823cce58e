"""CRL monitor: reading shards into snapshots and comparing two rounds of a shard set.

A mass revocation (seed 000) can put a million entries on an issuer's shards, and the
monitor must read and compare all of them every round. This builds S shards holding N
entries in all, signs them with a P-256 key, then times: parsing every shard into a
snapshot, comparing the set with a next round in which one entry is missing (the
cross-shard removal check), and `cryptography`'s CRL parser iterating the same entries
for reference.

    .venv/bin/python benchmarks/crl_monitor.py [--entries N] [--shards S]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import NameOID

from certkeeper.audit.crl_monitor import SetRound, compare_sets
from certkeeper.audit.crl_snapshots import snapshot
from certkeeper.x509 import crl
from certkeeper.x509.signer import KEY_SPECS, KeySigner

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
T = TypeVar("T")
BASE = "http://pki.example.com/crl/tls-ecdsa-1"


def build(entries: int, shards: int, number: int, drop: int | None) -> dict[str, bytes]:
    spec = KEY_SPECS["ecdsa-p256"]
    signer = KeySigner(spec.generate(), spec)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    issuer = crl.CrlIssuer(name.public_bytes(), b"\x02" * 20)
    rng = random.Random(7)
    per_shard: dict[int, list[tuple[int, datetime, int | None]]] = {s: [] for s in range(shards)}
    for i in range(entries):
        serial = rng.getrandbits(127) | (1 << 127)
        when = NOW - timedelta(seconds=rng.randrange(86400 * 30))
        if i == drop:
            continue
        per_shard[serial % shards].append((serial, when, crl.SUPERSEDED if i % 3 else None))
    out = {}
    this_update = NOW + timedelta(hours=number)
    for shard, revoked in per_shard.items():
        url = f"{BASE}/{shard}.crl"
        out[url] = crl.build_crl(
            issuer,
            revoked,
            this_update,
            this_update + timedelta(days=7),
            number,
            signer,
            idp_uri=url,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    args = parser.parse_args()
    first = build(args.entries, args.shards, 1, None)
    second = build(args.entries, args.shards, 2, args.entries // 2)
    size = sum(len(d) for d in first.values())

    timings: list[tuple[str, float, float]] = []

    def timed(label: str, fn: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        timings.append((label, time.perf_counter() - wall, time.process_time() - cpu))
        return value

    old = timed(
        "parse one round into snapshots", lambda: {u: snapshot(d, u) for u, d in first.items()}
    )
    new = timed("parse the next round", lambda: {u: snapshot(d, u) for u, d in second.items()})
    result = timed(
        "compare the rounds (all shards)",
        lambda: compare_sets(old, SetRound(list(second), new), NOW),
    )
    total = timed(
        "cryptography: iterate the entries",
        lambda: sum(sum(1 for _ in x509.load_der_x509_crl(der)) for der in first.values()),
    )
    assert len(result.removed) == 1, len(result.removed)
    assert total == args.entries, total

    print(f"{args.entries:,} entries over {args.shards} shards, {size / 1e6:.1f} MB of CRLs")
    print(f"{'step':<40} {'wall s':>8} {'cpu s':>8} {'entries/cpu s':>14}")
    for label, wall, cpu in timings:
        print(f"{label:<40} {wall:>8.2f} {cpu:>8.2f} {args.entries / cpu:>14,.0f}")


if __name__ == "__main__":
    main()
