"""Revoked but not yet published is durable state: every revocation path marks its
shard pending in its own transaction, every publisher finishes pending shards, leases
of dead publishers are reclaimed, and a CRL file that cannot be written leaves the
shard pending with one error line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from certkeeper import crl_files, wiring
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.revocation.publishing import PublicationIncomplete
from certkeeper.revocation.reasons import CrlReason
from certkeeper.status import crl as crl_module
from certkeeper.status import lease_owner
from certkeeper.status.crl import CrlPublishRefused
from certkeeper.store.crl_repo import CrlStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home
from fault_injection import fill, full_disk_under, tiny_tmpfs

SHARDS = 4


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CERTKEEPER_ACTOR", "test-operator")
    home = make_home(tmp_path / "home", crl_shards=SHARDS)
    # [crl] dir away from the default: everything must use it
    toml = home / "certkeeper.toml"
    toml.write_text(toml.read_text().replace('dir = "crl"', 'dir = "public/crl"', 1))
    opened = CaHome.open(home)
    assert opened.config.crl_dir == home / "public" / "crl"
    yield opened
    opened.close()


def issue(ca: CaHome, count: int, prefix: str = "c") -> list[str]:
    service = issuance_service(ca)
    return [
        service.issue(
            IssueRequest(load_csr(csr_pem([f"{prefix}{i}.example.com"])), "tls-dv-ecdsa")
        ).serial
        for i in range(count)
    ]


def pending(ca: CaHome) -> dict[tuple[int, int], int]:
    return CrlStore(ca.inventory.engine).pending_shards()


def shard_key(ca: CaHome, serial: str) -> tuple[int, int]:
    rec = ca.inventory.certificate(serial=serial)
    return rec.issuer_id, rec.crl_shard


def on_published_crl(ca: CaHome, serial: str, out: Path | None = None) -> bool:
    rec = ca.inventory.certificate(serial=serial)
    name = ca.inventory.issuer(rec.issuer_id).name
    path = crl_files.shard_path(out or ca.config.crl_dir, name, rec.crl_shard)
    if not path.is_file():
        return False
    crl = x509.load_der_x509_crl(path.read_bytes())
    return crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


def test_a_revocation_is_pending_until_a_crl_with_it_is_written(ca: CaHome) -> None:
    (serial,) = issue(ca, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    assert pending(ca) == {}
    # a run that dies after its commit: no publish callback at all
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    key = shard_key(ca, serial)
    assert pending(ca) == {key: 1}
    status = {(r.issuer, r.shard): r.pending for r in wiring.build(ca).crl.status(now)}
    assert status[("tls-ecdsa-1", key[1])] == 1 and sum(status.values()) == 1
    # keyCompromise replacing superseded is a change of the entry: pending again
    wiring.build(ca).crl.publish(ca.config.crl_dir, now)
    assert pending(ca) == {}
    wiring.build(ca).revocation.revoke(
        serial, CrlReason.keyCompromise, now=now + timedelta(seconds=1)
    )
    assert pending(ca) == {key: 1}


def test_the_next_revoke_publishes_what_a_dead_one_left(ca: CaHome) -> None:
    serials = issue(ca, 8)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(
        serials[0], CrlReason.superseded, now=now
    )  # died before publishing
    lost = shard_key(ca, serials[0])
    other = next(s for s in serials[1:] if shard_key(ca, s) != lost)
    done = wiring.build(ca).revocation.revoke(
        other, CrlReason.superseded, now=now, publish=wiring.build(ca).republisher.publisher()
    )
    assert done.published == 2  # its own shard and the one left pending
    assert pending(ca) == {}
    assert on_published_crl(ca, serials[0]) and on_published_crl(ca, other)


def test_repeating_a_revocation_finishes_its_publication(ca: CaHome) -> None:
    (serial,) = issue(ca, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    again = wiring.build(ca).revocation.revoke(
        serial, CrlReason.superseded, now=now, publish=wiring.build(ca).republisher.publisher()
    )
    assert again.action == "unchanged" and again.published == 1
    assert on_published_crl(ca, serial) and pending(ca) == {}


def test_crl_publish_and_serve_use_the_configured_directory(ca: CaHome) -> None:
    from certkeeper.server_worker import HOME_ENV, app_from_environment

    (serial,) = issue(ca, 1)
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=datetime.now(UTC))
    home = str(ca.config.home)
    result = CliRunner().invoke(app, ["crl", "publish", "--home", home])
    assert result.exit_code == 0, result.output
    assert on_published_crl(ca, serial)
    assert not (ca.config.home / "crl").exists()
    os.environ[HOME_ENV] = home
    try:
        served = app_from_environment()
    finally:
        del os.environ[HOME_ENV]
    assert served.crl_dir == ca.config.crl_dir.resolve()  # type: ignore[attr-defined]


def test_no_space_for_a_crl_is_one_line_and_leaves_the_shard_pending(
    ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = issue(ca, 2)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).crl.publish(ca.config.crl_dir, now)
    for s in serials:
        wiring.build(ca).revocation.revoke(s, CrlReason.superseded, now=now)
    before = pending(ca)
    runner = CliRunner()
    home = str(ca.config.home)
    with monkeypatch.context() as m:
        # the disk fills up while the new CRL is written (fsync is where a full
        # filesystem reports it for buffered writes)
        m.setattr(os, "fsync", full_disk_under(ca.config.crl_dir))
        result = runner.invoke(app, ["crl", "publish", "--home", home])
        assert result.exit_code == 3
        errors = [line for line in result.stderr.splitlines() if "No space left" in line]
        assert len(errors) == 1 and "Traceback" not in result.output
        assert "stay pending" in errors[0]
        leftovers = [p for p in ca.config.crl_dir.rglob("*.tmp")]
        assert leftovers == []  # the half-written temporary file is removed
        assert pending(ca) == before
        status = runner.invoke(app, ["crl", "status", "--home", home, "--format", "json"])
        assert status.exit_code == 0
        assert "on no published CRL yet" in status.stderr

        # revoke: recorded, then one line saying publication did not happen (exit 3)
        (third,) = issue(ca, 1, prefix="third")
        result = runner.invoke(app, ["revoke", third, "--reason", "superseded", "--home", home])
        assert result.exit_code == 3 and "Traceback" not in result.output
        assert f"serial {third}: revoked, OCSP re-signed; but" in result.stderr
        assert "No space left on device" in result.stderr
    result = runner.invoke(app, ["crl", "publish", "--home", home])
    assert result.exit_code == 0, result.output
    assert pending(ca) == {}
    assert all(on_published_crl(ca, s) for s in [*serials, third])


def _dead_owner() -> str:
    """The lease-owner name of a process that has exited."""
    code = "from certkeeper.status.lease_owner import default_owner; print(default_owner())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_a_dead_publishers_lease_is_reclaimed_at_once(ca: CaHome) -> None:
    (serial,) = issue(ca, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    issuer_id, shard = shard_key(ca, serial)
    store = CrlStore(ca.inventory.engine)
    dead = _dead_owner()
    assert lease_owner.owner_is_dead(dead) and not lease_owner.owner_is_dead(
        lease_owner.default_owner()
    )
    assert store.acquire(issuer_id, shard, dead, now + timedelta(minutes=10), now)
    started = time.monotonic()
    report = wiring.build(ca).crl.publish(ca.config.crl_dir, now)
    assert time.monotonic() - started < 10  # no waiting for the lease to run out
    assert not report.skipped and on_published_crl(ca, serial)


def test_a_live_foreign_lease_on_a_pending_shard_fails_the_run(
    ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crl_module, "LEASE_DURATION", timedelta(seconds=2))
    monkeypatch.setattr(crl_module, "LEASE_RENEWAL", 0.5)
    serials = issue(ca, 6)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(serials[0], CrlReason.superseded, now=now)
    issuer_id, shard = shard_key(ca, serials[0])
    store = CrlStore(ca.inventory.engine)
    # another host (liveness unknown) holds it far beyond the wait
    assert store.acquire(issuer_id, shard, "other-host:1", now + timedelta(hours=1), now)
    # an idle shard held elsewhere is only skipped
    idle = next(s for s in range(SHARDS) if s != shard)
    assert store.acquire(issuer_id, idle, "other-host:1", now + timedelta(hours=1), now)
    with pytest.raises(CrlPublishRefused) as info:
        wiring.build(ca).crl.publish(ca.config.crl_dir, now)
    assert f"tls-ecdsa-1 shard {shard}: lease held by other-host:1" in str(info.value)
    assert "1 revocation(s) still on no CRL" in str(info.value)
    assert [r.shard for r in info.value.report.failed] == [shard]
    assert {r.shard for r in info.value.report.skipped} == {shard, idle}
    with pytest.raises(PublicationIncomplete, match=f"serial {serials[1]}: revoked"):
        wiring.build(ca).revocation.revoke(
            serials[1],
            CrlReason.superseded,
            now=now,
            publish=wiring.build(ca).republisher.publisher(),
        )
    # once the holder's lease runs out the next publisher finishes the shard
    later = now + timedelta(hours=1, seconds=1)
    report = wiring.build(ca).crl.publish(ca.config.crl_dir, later)
    assert not report.failed and pending(ca) == {}
    assert on_published_crl(ca, serials[0]) and on_published_crl(ca, serials[1])


def test_a_slow_publisher_keeps_its_lease_by_renewing_it(
    ca: CaHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crl_module, "LEASE_DURATION", timedelta(seconds=1))
    monkeypatch.setattr(crl_module, "LEASE_RENEWAL", 0.2)
    (serial,) = issue(ca, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    issuer_id, shard = shard_key(ca, serial)
    store = CrlStore(ca.inventory.engine)
    seen: list[bool] = []
    build = crl_module.ShardPublisher.build

    def slow_build(self: crl_module.ShardPublisher, *args: object) -> object:
        time.sleep(2.5)  # past the lease duration, more than once
        at = now + timedelta(seconds=2.5)
        seen.append(store.acquire(issuer_id, shard, "intruder", at + timedelta(seconds=5), at))
        return build(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(crl_module.ShardPublisher, "build", slow_build)
    task = crl_module.CrlTask(issuer_id, "tls-ecdsa-1", "shard", shard)
    result = (
        wiring.build(ca)
        .crl.shard_publisher()
        .publish_one(task, now, ca.config.crl_dir, owner=lease_owner.default_owner())
    )
    assert seen == [False] and result.status == "published"
    assert on_published_crl(ca, serial) and pending(ca) == {}


def test_upgrading_to_0008_counts_revocations_newer_than_their_shards_crl(ca: CaHome) -> None:
    """An upgrade never hides a revocation: those recorded at or after their shard's
    last publication (or in a shard never published) come out pending."""
    from alembic import command

    from certkeeper.store import database

    serials = issue(ca, 3)
    now = datetime.now(UTC).replace(microsecond=0)
    for s in serials[:2]:
        wiring.build(ca).revocation.revoke(s, CrlReason.superseded, now=now)
    wiring.build(ca).crl.publish(ca.config.crl_dir, now + timedelta(seconds=10))
    wiring.build(ca).revocation.revoke(
        serials[2], CrlReason.superseded, now=now + timedelta(seconds=20)
    )
    with ca.inventory.engine.begin() as conn:
        command.downgrade(database._alembic_config(conn), "0007")
    with ca.inventory.engine.begin() as conn:
        command.upgrade(database._alembic_config(conn), "0008")
    assert pending(ca) == {shard_key(ca, serials[2]): 1}


def test_a_copy_written_elsewhere_does_not_count_as_published(ca: CaHome, tmp_path: Path) -> None:
    (serial,) = issue(ca, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.build(ca).revocation.revoke(serial, CrlReason.superseded, now=now)
    result = CliRunner().invoke(
        app, ["crl", "publish", "--home", str(ca.config.home), "--out", str(tmp_path / "copy")]
    )
    assert result.exit_code == 0, result.output
    assert on_published_crl(ca, serial, tmp_path / "copy")
    assert pending(ca) == {shard_key(ca, serial): 1}  # nothing serves the copy
    wiring.build(ca).crl.publish(ca.config.crl_dir, now)
    assert pending(ca) == {}


def test_a_publishing_worker_that_dies_is_one_error_line(ca: CaHome, tmp_path: Path) -> None:
    """A worker of `crl publish --workers N` that ends without a result (here: it
    cannot open the CA home) is a CertkeeperError, not a BrokenProcessPool traceback."""
    import dataclasses

    from certkeeper.status.crl import PublishWorkerDied

    elsewhere = CaHome(dataclasses.replace(ca.config, home=tmp_path / "gone"))
    try:
        with pytest.raises(PublishWorkerDied, match="worker process died") as info:
            wiring.build(elsewhere).crl.publish(ca.config.crl_dir, datetime.now(UTC), workers=2)
    finally:
        elsewhere.close()
    assert info.value.exit_code == 3


def test_a_really_full_filesystem_under_the_crl_directory(ca: CaHome) -> None:
    """A real tmpfs, filled: `crl publish` and `revoke` each end with one line and
    exit 3, the old files stay, the shards stay pending; with space again, one
    publication finishes them."""
    serials = issue(ca, 2)
    home = str(ca.config.home)
    runner = CliRunner()
    with tiny_tmpfs(ca.config.crl_dir):
        assert runner.invoke(app, ["crl", "publish", "--home", home]).exit_code == 0
        before = {p: p.read_bytes() for p in ca.config.crl_dir.rglob("*.crl")}
        filler = fill(ca.config.crl_dir)
        result = runner.invoke(
            app, ["revoke", serials[0], "--reason", "superseded", "--home", home]
        )
        assert result.exit_code == 3 and "Traceback" not in result.output
        assert f"serial {serials[0]}: revoked, OCSP re-signed; but" in result.stderr
        result = runner.invoke(app, ["crl", "publish", "--home", home])
        assert result.exit_code == 3 and "Traceback" not in result.output
        errors = [ln for ln in result.stderr.splitlines() if "No space left on device" in ln]
        assert len(errors) == 1
        assert {p: p.read_bytes() for p in ca.config.crl_dir.rglob("*.crl")} == before
        assert not list(ca.config.crl_dir.rglob("*.tmp"))
        assert pending(ca) == {shard_key(ca, serials[0]): 1}
        filler.unlink()
        done = runner.invoke(app, ["revoke", serials[1], "--reason", "superseded", "--home", home])
        assert done.exit_code == 0, done.output
        assert pending(ca) == {}
        assert on_published_crl(ca, serials[0]) and on_published_crl(ca, serials[1])


def test_every_write_to_the_revocations_table_counts_as_pending() -> None:
    """A safeguard no path can skip: every function in the package that inserts or
    updates revocation rows also calls `add_pending` (in the same transaction)."""
    import ast

    import certkeeper

    writers: dict[str, bool] = {}
    for path in Path(certkeeper.__file__).parent.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            writes = any(
                isinstance(c.func, ast.Name)
                and c.func.id in ("insert", "update")
                and any(isinstance(a, ast.Name) and a.id == "revocations" for a in c.args)
                for c in calls
            )
            if writes:
                marks = any(
                    isinstance(c.func, ast.Name) and c.func.id == "add_pending" for c in calls
                )
                writers[f"{path.name}:{node.name}"] = marks
    assert set(writers) >= {"revocations.py:_record", "incidents.py:revoke_items"}
    assert all(writers.values()), writers
