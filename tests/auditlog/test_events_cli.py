"""Every event site writes its entry, with the actor, through the real commands; an
auditor's `audit-log verify` finds each kind of tampering in the SQLite inventory."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.cli.main import app
from factories import PASSPHRASE, csr_pem

runner = CliRunner()


def run(*args: str, actor: str = "alice") -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": actor},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def entries(home: Path, *options: str) -> list[dict[str, object]]:
    code, out, err = run("audit-log", "show", "--home", str(home), "--format", "json", *options)
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auditlog") / "home"
    code, _, err = run("init", "--home", str(path), "--non-public", actor="ceremony-lead")
    assert code == 0, err
    return path


def test_init_records_the_home_and_every_ca_certificate(home: Path) -> None:
    rows = entries(home, "--event", "ca.")
    assert rows[0]["event"] == "ca.home-created" and rows[0]["seq"] == 1
    created = {r["subject"] for r in rows if r["event"] == "ca.certificate-created"}
    assert {"root", "tls-ecdsa-1", "tls-rsa-1", "ocsp-ecdsa-1", "ocsp-rsa-1"} <= created
    assert {r["actor"] for r in rows} == {"ceremony-lead"}


def test_issuance_refusal_and_revocation_are_recorded_by_serial(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "r.csr"
    csr.write_bytes(csr_pem(["www.example.com"]))
    code, out, err = run(
        "issue", "--home", str(home), "--csr", str(csr), "--profile", "tls-dv-ecdsa", actor="bob"
    )
    assert code == 0, err
    serial = err.split("serial ")[1].split()[0] if "serial " in err else out.split()[2]
    code, _, err = run(
        "issue", "--home", str(home), "--csr", str(csr), "--profile", "tls-dv-rsa", actor="bob"
    )
    assert code == 3
    code, _, err = run(
        "revoke", serial, "--home", str(home), "--reason", "keyCompromise", "--no-publish",
        actor="carol",
    )  # fmt: skip
    assert code == 0, err

    about = entries(home, "--serial", serial)
    assert [(r["event"], r["actor"]) for r in about] == [
        ("certificate.issued", "bob"),
        ("revocation.revoked", "carol"),
    ]
    assert about[1]["detail"]["reason"] == "keyCompromise"  # type: ignore[index]
    refused = entries(home, "--event", "issuance.refused")[-1]
    assert refused["actor"] == "bob" and refused["subject"] == "www.example.com"
    assert "rsa" in str(refused["detail"])


def test_profile_actions_carry_the_actor_option(home: Path) -> None:
    for action, who in (("disable", "dave"), ("enable", "erin")):
        code, _, err = run(
            "profile", action, "tls-dv-rsa", "--reason", "test of the audit log",
            "--home", str(home), "--actor", who,
        )  # fmt: skip
        assert code == 0, err
    rows = entries(home, "--event", "profile.")[-2:]
    assert [(r["event"], r["actor"]) for r in rows] == [
        ("profile.disabled", "dave"),
        ("profile.enabled", "erin"),
    ]
    assert entries(home, "--actor", "dave")[-1]["event"] == "profile.disabled"


def test_ca_activation_needs_a_second_person_under_require_approval(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home), "--non-public")[0] == 0
    config = home / "certkeeper.toml"
    config.write_text(
        config.read_text().replace("require_approval = false", "require_approval = true")
    )
    code, _, err = run(
        "ca", "add-issuer", "tls-ecdsa-2", "--key-type", "ecdsa-p256", "--home", str(home)
    )
    assert code == 0, err
    code, _, err = run("ca", "activate", "tls-ecdsa-2", "--home", str(home), actor="alice")
    assert code == 3
    assert "needs a second person" in err and "requested by alice" in err
    assert run("ca", "activate", "tls-ecdsa-2", "--home", str(home), actor="alice")[0] == 3
    code, out, err = run("ca", "list", "--home", str(home), "--format", "json")
    assert {r["name"]: r["state"] for r in json.loads(out)}["tls-ecdsa-2"] == "standby"

    code, _, err = run("ca", "activate", "tls-ecdsa-2", "--home", str(home), actor="bob")
    assert code == 0, err
    rows = entries(home, "--event", "ca.")
    requested = [r for r in rows if r["event"] == "ca.activation-requested"]
    assert [r["actor"] for r in requested] == ["alice"]  # asking twice is one request
    done = rows[-1]
    assert (done["event"], done["actor"]) == ("ca.activated", "bob")
    assert done["detail"] == {"requested_by": "alice", "retired": ["tls-ecdsa-1"]}
    created = [r["subject"] for r in rows if r["event"] == "ca.certificate-created"]
    assert created[-2:] == ["tls-ecdsa-2", "ocsp-tls-ecdsa-2-1"]


def _tamper(home: Path, sql: str) -> None:
    with sqlite3.connect(home / "inventory.db") as db:
        db.executescript(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "entry 3: content does not match"),
        ("DELETE FROM audit_log WHERE seq = 2", "entries 2 are missing"),
        (
            "UPDATE audit_log SET seq = -2 WHERE seq = 2; "
            "UPDATE audit_log SET seq = 2 WHERE seq = 3; "
            "UPDATE audit_log SET seq = 3 WHERE seq = -2",
            "entry 2 does not link to the entry stored before it",
        ),
    ],
    ids=["edit", "delete", "reorder"],
)
def test_verify_finds_each_kind_of_tampering(tmp_path: Path, sql: str, expected: str) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home), "--non-public")[0] == 0
    code, out, err = run("audit-log", "verify", "--home", str(home))
    assert code == 0, err
    assert out.startswith("audit log: 6 entries verified, head #6 ")
    assert "mirror" in out and "6 lines" in out
    _tamper(home, sql)
    code, out, err = run("audit-log", "verify", "--home", str(home), "--no-mirror")
    assert code == 4
    assert expected in err
    assert err.strip().splitlines()[-1].startswith("error: audit log: ")


def test_a_truncated_log_fails_its_exported_checkpoint_and_its_mirror(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home), "--non-public")[0] == 0
    point = tmp_path / "checkpoint.json"
    code, _, err = run("audit-log", "checkpoint", "--home", str(home), "--out", str(point))
    assert code == 0, err
    assert json.loads(point.read_text())["seq"] == 6
    _tamper(home, "DELETE FROM audit_log WHERE seq >= 5")
    code, _, err = run("audit-log", "verify", "--home", str(home), "--no-mirror")
    assert code == 0  # what is left still chains: only a record kept elsewhere tells
    code, _, err = run(
        "audit-log", "verify", "--home", str(home), "--no-mirror", "--checkpoint", str(point)
    )
    assert code == 4 and "entry 6 of the checkpoint" in err and "truncated" in err
    code, _, err = run("audit-log", "verify", "--home", str(home))
    assert code == 4 and "has entry 6, the inventory does not" in err


def test_bad_checkpoint_and_filters_are_one_line(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"seq": 1}')
    code, _, err = run("audit-log", "verify", "--home", str(home), "--checkpoint", str(bad))
    assert (
        code == 1 and err.strip() == f"error: checkpoint {bad}: hash is not 64 hexadecimal digits"
    )
    code, _, err = run("audit-log", "show", "--home", str(home), "--serial", "xyz")
    assert code == 1 and err.strip() == "error: --serial 'xyz' is not hexadecimal"
    code, _, err = run("audit-log", "show", "--home", str(home), "--since", "yesterday")
    assert code == 1 and "--since 'yesterday' is not an ISO 8601 time" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_records_its_start_and_its_stop(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home), "--non-public")[0] == 0
    port = _free_port()
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": "ops"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "certkeeper", "serve", "ocsp", "--home", str(home),
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(r["event"] == "server.started" for r in entries(home, "--event", "server.")):
                break
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    rows = entries(home, "--event", "server.")
    assert [(r["event"], r["actor"], r["subject"]) for r in rows] == [
        ("server.started", "ops", "ocsp"),
        ("server.stopped", "ops", "ocsp"),
    ]
    assert rows[0]["detail"] == rows[1]["detail"]


def test_keys_block_is_recorded_with_every_hash_and_the_actor(home: Path, tmp_path: Path) -> None:
    hashes = ["ab" * 32, "cd" * 32]
    listing = tmp_path / "leaked.txt"
    listing.write_text("\n".join(hashes) + "\n")
    code, _, err = run(
        "keys", "block", "--file", str(listing), "--reason", "leaked on a paste site",
        "--home", str(home), "--actor", "kim",
    )  # fmt: skip
    assert code == 0, err
    (row,) = entries(home, "--event", "keys.blocked")
    assert (row["actor"], row["subject"]) == ("kim", "leaked.txt")
    detail = row["detail"]
    assert isinstance(detail, dict)
    assert detail["spki_sha256"] == hashes and detail["added"] == 2
    assert detail["reason"] == "leaked on a paste site"
    assert run("audit-log", "verify", "--home", str(home))[0] == 0


def test_incident_commands_record_who_changed_what(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home), "--non-public")[0] == 0
    csr = tmp_path / "r.csr"
    csr.write_bytes(csr_pem(["incident.example.com"]))
    h = ("--home", str(home))
    assert run("issue", *h, "--csr", str(csr), "--profile", "tls-dv-ecdsa")[0] == 0
    code, _, err = run(
        "incident", "open", *h, "--title", "EKU wrong", "--reason", "5",
        "--aware-at", "2020-01-01T00:00:00Z", "--profile", "tls-dv-ecdsa", "--actor", "ian",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "incident", "details", "1", *h, "--set", "description=EKU set wrongly", "--actor", "dora"
    )
    assert code == 0, err
    code, _, err = run(
        "incident", "action", "add", "1", *h, "--kind", "Prevent", "--description", "lint",
        "--root-cause", "Root Cause #1", "--criteria", "no EKU finding", "--due", "2027-01-01",
        "--actor", "dora",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "incident", "action", "set", "1", "1", *h, "--status", "In Progress", "--actor", "erin"
    )
    assert code == 0, err
    rows = entries(home, "--event", "incident.")
    assert [(r["event"], r["actor"], r["subject"]) for r in rows] == [
        ("incident.opened", "ian", "incident 1"),
        ("incident.details-updated", "dora", "incident 1"),
        ("incident.action-added", "dora", "incident 1"),
        ("incident.action-changed", "erin", "incident 1"),
    ]
    assert rows[1]["detail"] == {
        "fields": ["description"],
        "values": {"description": "EKU set wrongly"},
    }
    assert rows[3]["detail"] == {"number": 1, "status": "In Progress"}
    assert run("audit-log", "verify", *h)[0] == 0
