"""`certkeeper audit compare-responders`: two responders asked about the same serials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from audit.status_audit_helpers import (
    GOOD,
    UNKNOWN,
    HandMade,
    OverridingResponder,
    World,
    build_world,
    free_port,
    invoke,
    serve_in_thread,
    status_app,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("compare"), count=4)


@pytest.fixture(scope="module")
def forge(world: World) -> HandMade:
    return HandMade(world.home)


@pytest.fixture(scope="module")
def ours(world: World) -> Iterator[str]:
    with serve_in_thread(status_app(world.home)) as url:
        yield url + "/ocsp"


def compare(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = invoke(
        "audit", "compare-responders", "--format", "json", "--workers", "1", *args
    )
    assert code in (0, 4), err
    return code, json.loads(out)


def test_two_copies_of_our_responder_agree(world: World, ours: str) -> None:
    with serve_in_thread(status_app(world.home)) as other:
        code, report = compare(ours, other + "/ocsp", "--home", str(world.home), "--all")
    assert code == 0
    summary = report["summary"]
    assert summary["serials"] == len(world.issued)
    assert summary["agree"] == len(world.issued) and summary["disagree"] == 0
    assert summary["a_statuses"] == {"good": 2, "revoked": 2}
    assert all(
        s["agree"] and not s["a"]["lints"] and not s["b"]["lints"] for s in report["serials"]
    )
    revoked = {s["serial"]: s for s in report["serials"]}[world.revoked[0]]
    assert revoked["a"]["reason"] == 1 and revoked["b"]["reason"] == 1  # keyCompromise


def test_disagreement_and_lint_findings_side_by_side(
    world: World, ours: str, forge: HandMade
) -> None:
    """B (the "new infrastructure") forgets one serial, calls a revoked one good, and
    encodes another's times with fractional seconds (seed 001)."""
    forgotten = int(world.issued[2], 16)
    resurrected = int(world.revoked[0], 16)
    fractional = int(world.issued[3], 16)

    def decide(serial: int) -> bytes | None:
        if serial == forgotten:
            return forge.response(serial, status=UNKNOWN)
        if serial == resurrected:
            return forge.response(serial, status=GOOD)
        if serial == fractional:
            return forge.response(serial, fraction=".123")
        return None

    with serve_in_thread(OverridingResponder(status_app(world.home), decide)) as new:
        code, report = compare(
            ours,
            new + "/ocsp",
            "--certs",
            str(world.precert_files),
            "--issuer",
            str(world.issuer_file),
        )
        table_code, table, _ = invoke(
            "audit",
            "compare-responders",
            ours,
            new + "/ocsp",
            "--home",
            str(world.home),
            "--workers",
            "1",
        )
    assert code == 4 and table_code == 4
    rows = {s["serial"]: s for s in report["serials"]}
    assert set(rows) == {world.issued[2], world.revoked[0], world.issued[3]}
    assert rows[world.issued[2]]["b"]["status"] == "unknown" and not rows[world.issued[2]]["agree"]
    assert rows[world.revoked[0]]["a"]["status"] == "revoked"
    assert rows[world.revoked[0]]["b"]["status"] == "good"
    frac = rows[world.issued[3]]
    assert frac["agree"]  # same status, but B's encoding fails the lints
    assert frac["a"]["lints"] == []
    assert "e_ocsp_time_fractional_seconds" in {f["lint_id"] for f in frac["b"]["lints"]}
    assert report["summary"]["b_lint_errors"] == 1 and report["summary"]["a_lint_errors"] == 0
    # the table puts both sides on one row
    assert "e_ocsp_time_fractional_seconds" in table
    assert "NO" in table and "unknown" in table


def test_an_unreachable_side_is_a_disagreement(world: World, ours: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/ocsp"
    code, report = compare(
        ours, dead, "--home", str(world.home), "--retries", "0", "--timeout", "1"
    )
    assert code == 4
    assert report["summary"]["b_statuses"] == {"transport": len(world.issued)}


def test_bad_urls_and_inputs_exit_1(world: World) -> None:
    code, _, err = invoke("audit", "compare-responders", "ocsp.example", "http://x/ocsp")
    assert code == 1 and "not an http" in err
    code, _, err = invoke(
        "audit", "compare-responders", "http://a/ocsp", "http://b/ocsp", "--certs", "."
    )
    assert code == 1 and "--certs and --issuer go together" in err
