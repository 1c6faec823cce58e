"""Mass revocation: one campaign revoking N certificates and republishing every
affected shard, from an inventory of real signed certificates.

    .venv/bin/python benchmarks/mass_revocation.py [--count 1000000] [--pg-count 200000]

Goal (issue: revocation at scale): 1,000,000 certificates revoked and every affected
shard republished in at most 60 s with SQLite on this 2-core machine; the PostgreSQL
figure is reported too, and both are extrapolated to the ~80M certificates of seed 000.

The inventory is built first (not timed against the goal): certificates are real, each
signed by the issuing CA's key; they share one subscriber key and differ in serial
(the TBS is a template whose serial and validity are replaced, then signed).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert

from certkeeper import wiring
from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.signing.tbs import sign_tbs
from certkeeper.store.database import write_transaction
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.store.tables import certificates, serials

PASSPHRASE = "benchmark"
SEED_000_POPULATION = 80_000_000
LINT_EVERY = 256  # OCSP responses: every shape in full, then one in 256 (see OcspSigner)


def template(ca: CaHome, issuer_name: str) -> tuple[bytes, int, int]:
    """A TBS built by certkeeper's profile code: (tbs, serial offset, serial length)."""
    from certkeeper.issuance import tbs as tbsmod

    issuer = ca.inventory.issuer_by_name(issuer_name)
    cert = ca.issuer_certificate(issuer)
    profile = ca.profiles.get("tls-dv-ecdsa")
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    now = datetime.now(UTC).replace(microsecond=0)
    marker = int("7e" + "ab" * 15, 16)
    inputs = tbsmod.TbsInputs(
        marker,
        ("bench.example.com",),
        key,
        now,
        now + timedelta(days=90) - timedelta(seconds=1),
        cert.subject,
        bytes.fromhex(issuer.ski),
        issuer.name,
        ca.config.base_url,
        0,
    )
    from certkeeper.signing.tbs import linting_copy

    tbs = linting_copy(
        tbsmod.build(profile, inputs, precertificate=False), issuer.key_type
    ).tbs_certificate_bytes
    needle = marker.to_bytes(16, "big")
    return tbs, tbs.index(needle), 16


_state: dict[str, object] = {}


def _init(home: str) -> None:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    ca = CaHome.open(Path(home))
    issuer = ca.inventory.issuer_by_name("tls-ecdsa-1")
    _state["signer"] = ca.signer(issuer)
    _state["issuer_id"] = issuer.id
    from certkeeper.wiring import build

    _state["ocsp"] = build(ca).ocsp_signer


def _make(
    args: tuple[bytes, int, int, int, int, datetime, datetime],
) -> tuple[list[dict[str, object]], list[object]]:
    """Sign `count` certificates and, as issuance does, each one's "good" response."""
    tbs, offset, length, count, shards, now, not_after = args
    signer = _state["signer"]
    rows = []
    for _ in range(count):
        serial = new_serial()
        body = tbs[:offset] + serial.to_bytes(length, "big") + tbs[offset + length :]
        cert = sign_tbs(body, signer)  # type: ignore[arg-type]
        rows.append({"serial": serial_hex(serial), "der": cert, "shard": shard_for(serial, shards)})
    ocsp_signer = _state["ocsp"]
    good = ocsp_signer.sign_many(  # type: ignore[attr-defined]
        _state["issuer_id"], [(r["serial"], not_after) for r in rows], now=now
    )
    return rows, good


def populate(ca: CaHome, count: int, workers: int) -> float:
    """Sign `count` certificates in worker processes and bulk-insert them."""
    started = time.perf_counter()
    tbs, offset, length = template(ca, "tls-ecdsa-1")
    issuer = ca.inventory.issuer_by_name("tls-ecdsa-1")
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + timedelta(days=60)
    chunk = 5000
    jobs = [
        (tbs, offset, length, min(chunk, count - i), ca.config.crl_shards, now, not_after)
        for i in range(0, count, chunk)
    ]
    ca.inventory.engine.dispose()
    done = 0
    with multiprocessing.get_context("fork").Pool(
        workers, initializer=_init, initargs=(str(ca.config.home),)
    ) as pool:
        for rows, good in pool.imap(_make, jobs):
            with write_transaction(ca.inventory.engine) as conn:
                conn.execute(
                    insert(serials),
                    [
                        {
                            "serial": r["serial"],
                            "issuer_id": issuer.id,
                            "assigned_at": now,
                            "state": "issued",
                            "profile_id": "tls-dv-ecdsa",
                            "profile_version": 1,
                            "crl_shard": r["shard"],
                            "failure": None,
                        }
                        for r in rows
                    ],
                )
                conn.execute(
                    insert(certificates),
                    [
                        {
                            "serial": r["serial"],
                            "issuer_id": issuer.id,
                            "der": r["der"],
                            "sha256": hashlib.sha256(r["der"]).hexdigest(),  # type: ignore[arg-type]
                            "sha1": hashlib.sha1(r["der"]).hexdigest(),  # type: ignore[arg-type]
                            "not_before": now,
                            "not_after": not_after,
                            "key_type": "ecdsa-p256",
                            "profile_id": "tls-dv-ecdsa",
                            "profile_version": 1,
                            "cps_version": "1.0",
                            "subscriber_id": None,
                            "crl_shard": r["shard"],
                            "subject_cn": "bench.example.com",
                            "issued_at": now,
                        }
                        for r in rows
                    ],
                )
                OcspStore.put_many_in(conn, good)  # type: ignore[arg-type]
            done += len(rows)
            print(
                f"\r  inventory: {done:,}/{count:,} certificates",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    return time.perf_counter() - started


def campaign(ca: CaHome, workers: int) -> dict[str, float]:
    incidents = wiring.build(ca).incidents
    times: dict[str, float] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    t = time.perf_counter()
    opened = incidents.open_incident(
        title="benchmark",
        aware_at=now,
        br_item_number=12,
        selector=CertificateFilter(issuer="tls-ecdsa-1"),
        now=now,
        who="benchmark",
    )
    assert opened.id is not None
    times["open (select, freeze, ARI)"] = time.perf_counter() - t
    t = time.perf_counter()
    plan = incidents.make_plan(opened.id, now, who="benchmark")
    times["plan"] = time.perf_counter() - t
    assert plan.plan.all_at_once, plan.verdict.summary(opened.id)
    t = time.perf_counter()
    result = incidents.execute(
        opened.id, now, workers=workers, who="benchmark", lint_every=LINT_EVERY
    )
    times["revoke (rows + OCSP re-sign)"] = time.perf_counter() - t
    t = time.perf_counter()
    published = wiring.build(ca).republisher.republish(result.shards, now)
    times["republish shards"] = time.perf_counter() - t
    status = incidents.status(opened.id, now + timedelta(seconds=1))
    assert status.counts.reconciles() and status.counts.revoked == result.revoked
    times["_revoked"] = result.revoked
    times["_shards"] = len(published.published)
    times["_largest"] = max((r.size_bytes or 0) for r in published.published)
    return times


def run(label: str, count: int, workers: int, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home_dir = create_home(
            Path(tmp) / "home", InitOptions(database_url=database_url), PASSPHRASE.encode()
        )
        ca = CaHome.open(home_dir)
        print(f"{label}: building an inventory of {count:,} signed certificates", file=sys.stderr)
        build = populate(ca, count, workers)
        times = campaign(ca, workers)
        times["_build"] = build
        ca.close()
        return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--pg-count", type=int, default=200_000, help="0 to skip PostgreSQL")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    results = {"SQLite": (args.count, run("SQLite", args.count, args.workers, None))}
    report(results, args.workers)  # printed now: a later failure loses nothing
    if args.pg_count:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pgserver import PostgresServer

        with PostgresServer() as server:
            url = server.create_database("bench")
            results["PostgreSQL"] = (
                args.pg_count,
                run("PostgreSQL", args.pg_count, args.workers, url),
            )
        report(results, args.workers)


def report(results: dict[str, tuple[int, dict[str, float]]], workers: int) -> None:
    print(f"\nMass revocation campaign, {workers} worker processes, {os.cpu_count()} cores")
    stages = [
        "open (select, freeze, ARI)",
        "plan",
        "revoke (rows + OCSP re-sign)",
        "republish shards",
    ]
    print(
        f"{'stage':<30}"
        + "".join(f"{k + ' ' + format(n, ','):>26}" for k, (n, _) in results.items())
    )
    for stage in stages:
        print(f"{stage:<30}" + "".join(f"{t[stage]:>25.1f}s" for _, t in results.values()))
    goal = {
        k: t["revoke (rows + OCSP re-sign)"] + t["republish shards"]
        for k, (_, t) in results.items()
    }
    print(f"{'revoke + republish (goal)':<30}" + "".join(f"{g:>25.1f}s" for g in goal.values()))
    print(
        f"{'certificates per second':<30}"
        + "".join(f"{n / goal[k]:>26,.0f}" for k, (n, _) in results.items())
    )
    print(
        f"{'shards republished':<30}"
        + "".join(f"{int(t['_shards']):>26}" for _, t in results.values())
    )
    print(
        f"{'largest shard (bytes)':<30}"
        + "".join(f"{int(t['_largest']):>26,}" for _, t in results.values())
    )
    print(
        f"{'(inventory build, untimed)':<30}"
        + "".join(f"{t['_build']:>25.1f}s" for _, t in results.values())
    )
    print(f"\nExtrapolation to the seed 000 population ({SEED_000_POPULATION:,} certificates):")
    for k, (n, _) in results.items():
        seconds = goal[k] / n * SEED_000_POPULATION
        print(
            f"  {k}: revoke + republish {seconds / 60:,.0f} min ({seconds / 3600:.1f} h) "
            "on one 2-core machine; "
            f"CRL entries ~{SEED_000_POPULATION * 49 / 1e9:.1f} GB in total, "
            f"{SEED_000_POPULATION * 49 // 10_000_000 + 1:,} shards at the 10 MB budget"
        )
    print("  (the BR 4.9.1.1 deadline for seed 000 was 5 days = 7,200 min)", flush=True)


if __name__ == "__main__":
    main()
