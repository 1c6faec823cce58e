"""Several processes writing one inventory at once, as issuance workers do."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import T0, Builder, issuer_record

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory, SerialCollision

WORKERS = 3
PER_WORKER = 40


def _issue_many(url: str, issuer_id: int, worker: int) -> tuple[int, int]:
    """Issue PER_WORKER certificates; serials overlap between workers on purpose."""
    engine = connect(url)
    inv = Inventory(engine)
    build = Builder(inv, issuer_id)
    issued = collisions = 0
    for i in range(PER_WORKER):
        # Every worker tries the same serial for even i: exactly one may win.
        serial = f"{0x100000 + i:x}" if i % 2 == 0 else f"{0x200000 + worker * 1000 + i:x}"
        try:
            inv.assign_serial(serial, issuer_id, "p", 1, 0, T0)
        except SerialCollision:
            collisions += 1
            continue
        inv.register_profile_version("shared", f"v = {i % 3}\n", T0)
        inv.ensure_subscriber(f"acct-{i % 4}", T0)
        inv.store_precertificate(build.precert(serial), [])
        inv.store_certificate(build.cert(serial, subscriber_id=f"acct-{i % 4}"), [])
        issued += 1
    engine.dispose()
    return issued, collisions


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]) -> str:
    return sqlite_url(tmp_path / "shared.db") if request.param == "sqlite" else new_pg_database()


@pytest.mark.slow
def test_parallel_writers(url: str) -> None:
    engine = connect(url)
    migrate(engine)
    inv = Inventory(engine)
    issuer = inv.add_issuer(issuer_record())
    assert issuer.id is not None
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(_issue_many, [(url, issuer.id, w) for w in range(WORKERS)])
    issued = sum(r[0] for r in results)
    collisions = sum(r[1] for r in results)
    shared = PER_WORKER // 2
    assert collisions == shared * (WORKERS - 1)
    assert issued == WORKERS * PER_WORKER - collisions
    assert inv.count_certificates(CertificateFilter()) == issued
    assert inv.count_precertificates(CertificateFilter(), without_final=True) == 0
    # Profile versions stayed a gap-free sequence despite the races.
    versions = [v for pid, v, _ in inv.profile_versions() if pid == "shared"]
    assert versions == list(range(1, len(versions) + 1))
    engine.dispose()
