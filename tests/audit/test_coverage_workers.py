"""Spawned coverage workers lint with the reference data their parent was told of:
a spawned process starts afresh, so `data update`'s TLD file must be handed over."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkeeper.audit.coverage import ChunkResult, run_jobs
from certkeeper.lint.tld import TldData


def installed_seen(expected: str) -> ChunkResult:
    """One count when this process would load the TLD override at `expected`."""
    return ChunkResult(count=int(str(TldData.installed_at) == expected))


def test_spawned_workers_use_the_installed_tld_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "tld-delegations.csv"
    monkeypatch.setattr(TldData, "installed_at", installed)
    total = run_jobs([str(installed)] * 2, installed_seen, workers=2)
    assert total.count == 2
