"""Every issuance path authorizes every name: `certkeeper validate` (BR 3.2.2.4 without
ACME) against a real DNS server and a real HTTP server, then `certkeeper issue` relying on
the record; unvalidated names refused on the single and batch paths; non-public homes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, Table, select

from certkeeper.ca.home import CaHome
from certkeeper.errors import EXIT_PARTIAL, ConfigError, NameNotAuthorized
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import (
    IssueRequest,
    NonPublicHierarchy,
    no_scts,
)
from certkeeper.store.tables import caa_checks, domain_validations, serials
from certkeeper.wiring import (
    OPERATOR_ACCOUNT,
    issuance_service,
    issuance_service_with,
    key_checker,
)
from cli_helpers import cli as run
from dnsserver import ChallTestSrv
from factories import PASSPHRASE, csr_pem, make_home
from public_ct import PublicCt
from validation.conftest import CA_IDENTITY, Route, WebServer


def name() -> str:
    return f"op{uuid.uuid4().hex[:12]}.example.com"


@pytest.fixture
def public_home(
    tmp_path: Path, dns: ChallTestSrv, web: WebServer, public_ct: PublicCt
) -> Iterator[Path]:
    home = make_home(tmp_path / "home", public_ct, public=True)
    with (home / "certkeeper.toml").open("a") as fh:
        fh.write(
            "\n[validation]\n"
            f'resolver = "{dns.address}"\n'
            f"http_port = {web.port}\n"
            "timeout_seconds = 3\n"
            f'caa_identities = ["{CA_IDENTITY}"]\n'
            "mpic_required = false\n"
            "dnssec_check = false\n"  # pebble-challtestsrv signs nothing
            "private_addresses = true\n"
        )
    yield home


def rows(home: Path, table: Table) -> list[Row[Any]]:
    ca = CaHome.open(home)
    try:
        with ca.inventory.engine.connect() as conn:
            return list(conn.execute(select(table)))
    finally:
        ca.close()


def write_csr(directory: Path, names: list[str], stem: str = "req") -> Path:
    path = directory / f"{stem}.csr"
    path.write_bytes(csr_pem(names))
    return path


def issue(home: Path, csr: Path) -> tuple[int, str, str]:
    return run("issue", "--home", str(home), "--csr", str(csr), "--profile", "tls-dv-ecdsa")


def validate_by_dns(home: Path, dns: ChallTestSrv) -> str:
    """A fresh name validated by dns-change through the CLI, the TXT record gone after."""
    fqdn = name()
    _, out, _ = run("validate", fqdn, "--method", "dns-change", "--home", str(home))
    owner, _, value = out.split()
    dns.set_txt(owner, value)
    try:
        code, _, err = run(
            "validate", fqdn, "--method", "dns-change", "--check", "--home", str(home)
        )
    finally:
        dns.clear_txt(owner)
    assert code == 0, err
    return fqdn


def test_issue_for_an_unvalidated_name_is_refused(public_home: Path, tmp_path: Path) -> None:
    code, out, err = issue(public_home, write_csr(tmp_path, ["www.google.com"]))
    assert code == 3 and out == ""
    assert err.strip() == (
        "error: www.google.com: no valid domain validation for this account "
        "(validate it with a challenge first)"
    )
    assert rows(public_home, serials) == []  # refused before a serial was assigned


def test_dns_change_then_issue(public_home: Path, tmp_path: Path, dns: ChallTestSrv) -> None:
    fqdn = name()
    code, out, err = run("validate", fqdn, "--method", "dns-change", "--home", str(public_home))
    assert code == 0, err
    owner, kind, value = out.split()
    assert (owner, kind) == (f"_acme-challenge.{fqdn}", "TXT")
    # Asking again gives the same value: one already published stays good.
    assert run("validate", fqdn, "--method", "dns-change", "--home", str(public_home))[1] == out

    code, _, err = run(
        "validate", fqdn, "--method", "dns-change", "--check", "--home", str(public_home)
    )
    assert code == 3
    assert err.startswith(f"error: {fqdn} not validated (dns): no TXT record at _acme-challenge.")

    dns.set_txt(owner, value)
    try:
        code, _, err = run(
            "validate", fqdn, "--method", "dns-change", "--check", "--home", str(public_home)
        )
    finally:
        dns.clear_txt(owner)
    assert code == 0, err
    assert f"validated {fqdn}" in err and "3.2.2.4.7" in err

    code, out, err = issue(public_home, write_csr(tmp_path, [fqdn]))
    assert code == 0, err
    assert out.count("BEGIN CERTIFICATE") == 2 and "non-public" not in err
    (record,) = rows(public_home, domain_validations)
    assert (record.fqdn, record.method, record.account_uri) == (fqdn, "3.2.2.4.7", OPERATOR_ACCOUNT)
    assert value in json.loads(record.evidence)["txt"]
    checks = rows(public_home, caa_checks)
    assert [(c.fqdn, c.allowed) for c in checks] == [(fqdn, True)]

    # The value was used: a second check needs a new value.
    code, _, err = run(
        "validate", fqdn, "--method", "dns-change", "--check", "--home", str(public_home)
    )
    assert code == 1 and "no random value pending" in err


def test_http_token_then_issue(public_home: Path, tmp_path: Path, web: WebServer) -> None:
    fqdn = name()
    code, out, err = run(
        "validate", fqdn, "--method", "http-token", "--format", "json", "--home", str(public_home)
    )
    assert code == 0, err
    todo = json.loads(out)
    assert todo["section"] == "3.2.2.4.19"
    prefix = f"http://{fqdn}:{web.port}"
    assert todo["where"].startswith(prefix + "/.well-known/acme-challenge/")
    web.set(fqdn, todo["where"][len(prefix) :], Route(body=todo["value"].encode()))
    code, _, err = run(
        "validate", fqdn, "--method", "http-token", "--check", "--home", str(public_home)
    )
    assert code == 0, err
    code, _, err = issue(public_home, write_csr(tmp_path, [fqdn]))
    assert code == 0, err


def test_caa_forbidding_us_refuses_a_validated_name(
    public_home: Path, tmp_path: Path, dns: ChallTestSrv
) -> None:
    fqdn = validate_by_dns(public_home, dns)
    dns.add_caa(fqdn, [("issue", "other-ca.example")])
    try:
        code, _, err = issue(public_home, write_csr(tmp_path, [fqdn]))
    finally:
        dns.clear_caa(fqdn)
    assert code == 3 and err.startswith(f"error: {fqdn}: ") and "CAA" in err


def test_batch_refuses_unvalidated_names_one_by_one(
    public_home: Path, tmp_path: Path, dns: ChallTestSrv
) -> None:
    good = validate_by_dns(public_home, dns)
    batch = tmp_path / "batch"
    batch.mkdir()
    write_csr(batch, [good], "a")
    write_csr(batch, ["www.google.com"], "b")
    code, _, err = run(
        "issue",
        "--home",
        str(public_home),
        "--batch",
        str(batch),
        "--profile",
        "tls-dv-ecdsa",
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "1",
    )
    assert code == EXIT_PARTIAL
    assert "issued 1, failed 1" in err
    assert "failed: b.csr: www.google.com: no valid domain validation" in err


def test_wildcard_needs_dns_change(public_home: Path) -> None:
    code, _, err = run(
        "validate", "*." + name(), "--method", "http-token", "--home", str(public_home)
    )
    assert code == 1 and "cannot validate a wildcard name" in err


def test_non_public_home_is_stated_and_skips_domain_authorization(tmp_path: Path) -> None:
    home = tmp_path / "np"
    code, _, err = run("init", "--home", str(home), "--non-public")
    assert code == 0, err
    assert "NON-PUBLIC home" in err
    assert "\npublic = false\n" in (home / "certkeeper.toml").read_text()
    code, _, err = issue(home, write_csr(tmp_path, ["www.google.com"]))
    assert code == 0, err
    assert "(non-public home: names not domain-validated)" in " ".join(err.split())


def test_a_home_never_changes_sides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    csr = write_csr(tmp_path, ["www.google.com"])
    public = make_home(tmp_path / "pub", public=True)
    config = public / "certkeeper.toml"
    config.write_text(config.read_text().replace("\npublic = true\n", "\npublic = false\n"))
    code, _, err = issue(public, csr)
    assert code == 1
    assert "says the home is non-public, but its hierarchy was created as a public one" in err

    private = make_home(tmp_path / "priv", public=False)
    config = private / "certkeeper.toml"
    config.write_text(config.read_text().replace("\npublic = false\n", "\npublic = true\n"))
    code, _, err = issue(private, csr)
    assert code == 1
    assert "says the home is public, but its hierarchy was created as a non-public one" in err


def test_library_path_cannot_skip_domain_authorization_in_a_public_home(
    public_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    ca = CaHome.open(public_home)
    try:
        with pytest.raises(ConfigError, match="cannot issue without domain authorization"):
            issuance_service_with(
                ca,
                name_authorizer=NonPublicHierarchy(),
                key_checker=key_checker(ca),
                sct_source=no_scts,
            )
        with pytest.raises(NameNotAuthorized, match="no valid domain validation"):
            issuance_service(ca).issue(
                IssueRequest(load_csr(csr_pem(["www.google.com"])), "tls-dv-ecdsa")
            )
    finally:
        ca.close()
