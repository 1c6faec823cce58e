"""`certkeeper certs list`: formats, filters, footer, and one-line errors for bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from store_helpers import T0, Builder, issuer_record
from typer.testing import CliRunner

from certkeeper.cli.certs import register
from certkeeper.config import render_config
from certkeeper.store.database import connect, migrate
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import CertificateRecord

app = typer.Typer()
register(app)


def make_home(root: Path, database_url: str = "sqlite:///inventory.db") -> Path:
    home = root / "ca-home"
    home.mkdir()
    (home / "certkeeper.toml").write_text(
        render_config(
            ca_name="Test CA",
            organization="Example",
            country="US",
            base_url="http://ca.example",
            passphrase_file="passphrase.txt",
            database_url=database_url,
        )
    )
    return home


def populate(url: str) -> tuple[Inventory, list[CertificateRecord], str]:
    engine = connect(url)
    migrate(engine)
    inv = Inventory(engine)
    issuer = inv.add_issuer(issuer_record("tls-ecdsa-1"))
    other = inv.add_issuer(issuer_record("tls-rsa-1"))
    assert issuer.id is not None and other.id is not None
    build = Builder(inv, issuer.id)
    certs = [
        build.issue(),
        build.issue(names=("shop.example.org",), profile_version=2),
        build.issue(issuer_id=other.id, key_type="rsa-2048", names=("badexample.com",)),
    ]
    pending = build.assign()
    inv.store_precertificate(build.precert(pending), [])
    return inv, certs, pending


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ca(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> tuple[Path, list[CertificateRecord], str]:
    if request.param == "sqlite":
        home = make_home(tmp_path)
        url = f"sqlite:///{home / 'inventory.db'}"
    else:
        url = new_pg_database()
        home = make_home(tmp_path, url)
    inv, certs, pending = populate(url)
    inv.engine.dispose()
    return home, certs, pending


def one_error(err: str) -> str:
    """The single error message, unwrapped (rich wraps stderr at the console width)."""
    assert "Traceback" not in err
    assert err.count("error: ") == 1, err
    assert err.startswith("error: ")
    return " ".join(err.split())


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["certs", "list", "--home", str(home), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_table_lists_all_with_footer(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, certs, _ = ca
    code, out, _ = run(home)
    assert code == 0
    for c in certs:
        assert c.serial in out
    assert out.strip().splitlines()[-1] == "3 distinct certificates"


def test_json(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, certs, _ = ca
    code, out, err = run(home, "--format", "json", "--domain", "example.com")
    assert code == 0
    rows = json.loads(out)
    assert [r["serial"] for r in rows] == [certs[0].serial]
    assert rows[0]["crtsh"] == f"https://crt.sh/?sha256={certs[0].sha256}"
    assert rows[0]["not_before"] == "2025-03-01T12:00:00Z"
    assert rows[0]["profile"] == "tls-server-ecdsa:1"
    assert "1 distinct certificate" in err


def test_csv_has_crtsh_column(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, certs, _ = ca
    code, out, err = run(home, "--format", "csv", "--issuer", "tls-rsa-1")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert rows[0]["crtsh"] == f"https://crt.sh/?sha256={certs[2].sha256}"
    assert rows[0]["key_type"] == "rsa-2048"
    assert rows[0]["issuer"] == "tls-rsa-1"
    assert "1 distinct certificate" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--profile", "tls-server-ecdsa:2"], [1]),
        (["--profile", "tls-server-ecdsa"], [0, 1, 2]),
        (["--key-type", "rsa-2048"], [2]),
        (["--domain", "EXAMPLE.com"], [0]),
        (["--issued-after", "2025-03-01"], [0, 1, 2]),
        (["--issued-before", "2025-03-01T12:00:00Z"], []),
        (["--expiring-after", "2025-05-30"], [0, 1, 2]),
        (["--expiring-after", "2025-06-01"], []),
        (["--cps-version", "1.0"], [0, 1, 2]),
    ],
)
def test_filters(
    ca: tuple[Path, list[CertificateRecord], str], args: list[str], expected: list[int]
) -> None:
    home, certs, _ = ca
    code, out, _ = run(home, "--format", "json", *args)
    assert code == 0
    assert [r["serial"] for r in json.loads(out)] == [certs[i].serial for i in expected]


def test_serial_and_sha256_forms(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, certs, _ = ca
    for args in (
        ["--serial", "00" + certs[1].serial.upper()],
        ["--sha256", certs[1].sha256.upper()],
    ):
        code, out, _ = run(home, "--format", "json", *args)
        assert code == 0
        assert [r["serial"] for r in json.loads(out)] == [certs[1].serial]


def test_limit_footer_counts_all(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, _, _ = ca
    code, out, _ = run(home, "--limit", "1")
    assert code == 0
    assert out.strip().splitlines()[-1] == "3 distinct certificates (showing 1)"


def test_precertificates_apart(ca: tuple[Path, list[CertificateRecord], str]) -> None:
    home, certs, pending = ca
    code, out, err = run(home, "--precertificates", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {r["serial"] for r in rows} == {c.serial for c in certs} | {pending}
    assert {r["serial"] for r in rows if not r["final"]} == {pending}
    assert "4 distinct precertificates" in err
    code, out, _ = run(home, "--precertificates", "--without-final", "--format", "csv")
    assert code == 0
    assert [r["serial"] for r in csv.DictReader(io.StringIO(out))] == [pending]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issued-after", "yesterday"], "--issued-after: invalid date 'yesterday'"),
        (["--expiring-after", "2025-13-01"], "--expiring-after: invalid date"),
        (["--serial", "xyz"], "invalid serial number 'xyz'"),
        (["--sha256", "abc"], "invalid SHA-256 fingerprint 'abc'"),
        (["--issuer", "nope"], "no issuer named 'nope'"),
        (["--profile", "p:x"], "--profile: invalid version"),
        (["--limit", "-1"], "--limit: must be zero or more"),
        (["--without-final"], "--without-final only applies with --precertificates"),
        (["--domain", "a..b"], "invalid domain"),
    ],
)
def test_bad_input_is_one_line(
    ca: tuple[Path, list[CertificateRecord], str], args: list[str], message: str
) -> None:
    home, _, _ = ca
    code, out, err = run(home, *args)
    assert code == 1
    assert out == ""
    assert message in one_error(err)


def test_missing_home(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "nowhere")
    assert code == 1
    assert "does not exist" in one_error(err)


def test_uninitialised_inventory(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    code, _, err = run(home)
    assert code == 1
    assert "not at the current schema version" in one_error(err)


def test_unreachable_database(tmp_path: Path) -> None:
    home = make_home(tmp_path, "postgresql+psycopg://u:secret@127.0.0.1:1/db")
    code, _, err = run(home)
    assert code == 1
    assert "cannot open database" in one_error(err)
    assert "secret" not in err


def test_registered_in_main_app() -> None:
    from certkeeper.cli.main import app as main_app

    names = {g.name for g in main_app.registered_groups}
    assert "certs" in names
    assert T0.tzinfo is not None
