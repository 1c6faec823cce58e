"""Batches are resumable and outputs are checked before signing: `issue --batch` killed
with SIGKILL midway and run again issues every CSR exactly once; an item a crash left
between "started" and "done" is found in the inventory; an unwritable --out signs
nothing, and one unwritable output fails only its own item, with the summary printed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from certkeeper.ca.home import CaHome
from certkeeper.issuance.batch import issue_batch
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.batches import BatchStore
from certkeeper.store.tables import batch_items, certificate_names, certificates
from certkeeper.wiring import build, issuance_service
from factories import PASSPHRASE, csr_pem, make_home

PROFILE = "tls-dv-ecdsa"
KILL_TRIALS = 3
CSRS = 12


@pytest.fixture
def home(tmp_path: Path) -> Path:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    return make_home(tmp_path / "home")


def _csr_dir(root: Path, count: int, tag: str) -> Path:
    directory = root / f"csrs-{tag}"
    directory.mkdir()
    for i in range(count):
        (directory / f"r{i:02d}.csr").write_bytes(csr_pem([f"r{i}.{tag}.example.com"]))
    return directory


def _counts(home: Path, tag: str) -> dict[str, int]:
    """Certificates per name of this batch."""
    ca = CaHome.open(home)
    try:
        with ca.inventory.engine.connect() as conn:
            rows = conn.execute(
                select(certificate_names.c.name, func.count())
                .join(certificates, certificates.c.id == certificate_names.c.certificate_id)
                .where(certificate_names.c.name.like(f"%.{tag}.example.com"))
                .group_by(certificate_names.c.name)
            ).all()
        return {str(name): int(n) for name, n in rows}
    finally:
        ca.close()


def _done_items(home: Path) -> int:
    ca = CaHome.open(home)
    try:
        with ca.inventory.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(batch_items.c.serial.is_not(None))
                ).scalar_one()
            )
    finally:
        ca.close()


def _issue_cmd(home: Path, source: str, path: Path, out: Path) -> list[str]:
    """`certkeeper issue --csr F` or `--batch DIR`, with --out."""
    args = ["--home", str(home), source, str(path), "--profile", PROFILE, "--out", str(out)]
    return [sys.executable, "-m", "certkeeper", "issue", *args]


def _batch_cmd(home: Path, directory: Path, out: Path) -> list[str]:
    return [*_issue_cmd(home, "--batch", directory, out), "--workers", "2"]


def test_killed_batch_is_resumed_and_issues_each_csr_once(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    for trial in range(KILL_TRIALS):
        tag = f"kill{trial}"
        directory = _csr_dir(tmp_path, CSRS, tag)
        out = tmp_path / f"out-{tag}"
        before = _done_items(home)
        proc = subprocess.Popen(
            _batch_cmd(home, directory, out),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        wanted = before + 2 + 3 * trial  # kill at a different point each trial
        while _done_items(home) < wanted and proc.poll() is None:
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        partial = _counts(home, tag)
        # (on a loaded machine the kill can land after the last item, before the exit)
        assert 0 < len(partial) <= CSRS
        rerun = subprocess.run(
            _batch_cmd(home, directory, out), env=env, capture_output=True, text=True, timeout=300
        )
        assert rerun.returncode == 0, rerun.stderr
        if proc.returncode != 0 and len(partial) < CSRS:
            assert "resumed the batch started" in rerun.stderr, rerun.stderr
        counts = _counts(home, tag)
        assert len(counts) == CSRS and set(counts.values()) == {1}, counts
        assert sorted(p.name for p in out.glob("*.pem")) == [f"r{i:02d}.pem" for i in range(CSRS)]


def test_item_left_in_doubt_is_found_in_the_inventory(home: Path, tmp_path: Path) -> None:
    directory = _csr_dir(tmp_path, 3, "doubt")
    ca = CaHome.open(home)
    try:
        runs = BatchStore(ca.inventory.engine)
        run = runs.open_run(str(directory.resolve()), PROFILE, None, datetime.now(UTC))
        first = directory / "r00.csr"
        data = first.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        runs.begin_item(run.id, digest, first.name, datetime.now(UTC))
        # the crash: issued and committed, but the item never marked done
        issuance_service(ca).issue(IssueRequest(load_csr(data), PROFILE))
        report = issue_batch(build(ca), directory, PROFILE, None, None, 1, build=build)
    finally:
        ca.close()
    assert report.resumed_from is not None
    assert [name for name, _ in report.skipped] == ["r00.csr"]
    assert len(report.issued) == 2 and not report.failed
    assert set(_counts(home, "doubt").values()) == {1}


def test_unwritable_out_signs_nothing(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "one.csr"
    csr.write_bytes(csr_pem(["one.unwritable.example.com"]))
    for out in (tmp_path / "missing-dir" / "x.pem", tmp_path):  # no directory; a directory
        result = subprocess.run(
            _issue_cmd(home, "--csr", csr, out),
            env={**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        assert str(out) in result.stderr
    assert _counts(home, "unwritable") == {}


def test_one_unwritable_output_fails_only_its_item(home: Path, tmp_path: Path) -> None:
    directory = _csr_dir(tmp_path, 4, "peritem")
    out = tmp_path / "issued"
    (out / "r01.pem").mkdir(parents=True)  # this item's output cannot be written
    result = subprocess.run(
        _batch_cmd(home, directory, out),
        env={**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 5, result.stderr  # partial
    assert "issued 3, failed 1" in result.stderr and "failed: r01.csr:" in result.stderr
    assert "is a directory" in result.stderr and "Traceback" not in result.stderr
    assert "r1.peritem.example.com" not in _counts(home, "peritem")  # never signed
    assert len(_counts(home, "peritem")) == 3
