"""Domain validations in the audit log (BR 5.4.1): each outcome of `certkeeper
validate --check`, with the BR method and the result, under the operator's --actor;
a success in the same transaction as its validation record."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.store.tables import domain_validations
from dnsserver import ChallTestSrv
from factories import PASSPHRASE, make_home
from validation.conftest import CA_IDENTITY, WebServer

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"CERTKEEPER_PASSPHRASE": PASSPHRASE})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path, dns: ChallTestSrv, web: WebServer) -> Path:
    path = make_home(tmp_path / "home")
    with (path / "certkeeper.toml").open("a") as fh:
        fh.write(
            f'\n[validation]\nresolver = "{dns.address}"\nhttp_port = {web.port}\n'
            f'timeout_seconds = 3\ncaa_identities = ["{CA_IDENTITY}"]\n'
            "mpic_required = false\nprivate_addresses = true\n"
        )
    return path


def validations(home: Path) -> list[dict[str, Any]]:
    code, out, err = run(
        "audit-log", "show", "--home", str(home), "--event", "validation.", "--format", "json"
    )
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def check(home: Path, fqdn: str, actor: str) -> int:
    args = ("validate", fqdn, "--method", "dns-change", "--check", "--home", str(home))
    return run(*args, "--actor", actor)[0]


def test_each_outcome_is_recorded_with_method_result_and_actor(
    home: Path, dns: ChallTestSrv
) -> None:
    fqdn = f"audit{uuid.uuid4().hex[:10]}.example.com"
    code, out, err = run("validate", fqdn, "--method", "dns-change", "--home", str(home))
    assert code == 0, err
    owner, _, value = out.split()
    assert check(home, fqdn, "vera") == 3  # nothing published yet
    dns.set_txt(owner, value)
    try:
        assert check(home, fqdn, "walt") == 0
    finally:
        dns.clear_txt(owner)

    failed, succeeded = validations(home)
    assert (failed["event"], failed["actor"], failed["subject"]) == (
        "validation.failed",
        "vera",
        fqdn,
    )
    assert failed["detail"]["method"] == "BR 3.2.2.4.7"
    assert failed["detail"]["result"] == "dns" and failed["detail"]["record"] is None
    assert (succeeded["event"], succeeded["actor"], succeeded["subject"]) == (
        "validation.succeeded",
        "walt",
        fqdn,
    )
    detail = succeeded["detail"]
    assert (detail["challenge"], detail["result"]) == ("dns-01", "valid")
    ca = CaHome.open(home)
    try:
        with ca.inventory.engine.connect() as conn:
            (stored,) = conn.execute(domain_validations.select()).all()
    finally:
        ca.close()
    assert detail["record"] == stored.id
    assert run("audit-log", "verify", "--home", str(home))[0] == 0
