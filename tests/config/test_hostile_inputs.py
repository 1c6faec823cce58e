"""Bad inputs that used to pass or end in a traceback: each is now one error line that
names the problem, and the files that hold secrets are created 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certkeeper.ca.home import CaHome
from certkeeper.config import CONFIG_NAME, load_config
from certkeeper.errors import ConfigError, InputError
from certkeeper.issuance.csr import load_csr
from certkeeper.store.database import connect, masked_url
from factories import PASSPHRASE, csr_pem, make_home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    return make_home(tmp_path_factory.mktemp("inputs") / "home")


def _with_config(home: Path, tmp_path: Path, edit: str, new: str) -> Path:
    copy = tmp_path / "home"
    copy.mkdir()
    text = (home / CONFIG_NAME).read_text()
    assert edit in text
    (copy / CONFIG_NAME).write_text(text.replace(edit, new))
    return copy


@pytest.mark.parametrize(
    "bad", ["http://pki.example.com\\n", "http://pki.example.com/a b", "http://pki\\texample.com"]
)
def test_base_url_with_whitespace_is_refused(home: Path, tmp_path: Path, bad: str) -> None:
    base = load_config(home).base_url
    copy = _with_config(home, tmp_path, f'base_url = "{base}"', f'base_url = "{bad}"')
    with pytest.raises(ConfigError, match=r"\[ca\]\.base_url: has characters") as info:
        load_config(copy)
    assert "\n" not in str(info.value)


def test_deeply_nested_toml_is_one_line(home: Path, tmp_path: Path) -> None:
    copy = _with_config(home, tmp_path, "[ca]", "deep = " + "[" * 5000 + "]" * 5000 + "\n[ca]")
    with pytest.raises(ConfigError, match="nested too deep"):
        load_config(copy)


def test_csr_file_with_two_csrs_is_refused() -> None:
    two = csr_pem(["a.example.com"]) + csr_pem(["b.example.com"])
    with pytest.raises(InputError, match="2 PEM blocks"):
        load_csr(two, "req.csr")
    assert load_csr(csr_pem(["a.example.com"]), "req.csr")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ca:s3cret-pw@db.invalid:notaport/ca",
        "sqlite+other://ca:s3cret-pw@/x.db",
        "postgresql://ca:s3cret-pw@127.0.0.1:1/ca",
    ],
)
def test_database_password_is_never_printed(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        connect(url)
    assert "s3cret-pw" not in str(info.value) and "***" in str(info.value)
    assert "s3cret-pw" not in masked_url(url)


def test_config_and_database_are_created_0600(home: Path) -> None:
    opened = CaHome.open(home)
    try:
        database = Path(opened.config.database_url.removeprefix("sqlite:///"))
    finally:
        opened.close()
    for path in (home / CONFIG_NAME, database):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
