"""The CA home config: typos and bad values are one clear line, waivers expire."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from certkeeper.config import CONFIG_NAME, Waiver, load_config, render_config
from certkeeper.errors import ConfigError


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / CONFIG_NAME).write_text(text)
    return home


def base() -> str:
    return render_config(
        ca_name="T CA",
        organization="T Org",
        country="DE",
        base_url="http://pki.example.com",
        passphrase_file="secrets/pass",
    )


def test_rendered_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "h", base()))
    assert cfg.ca_name == "T CA" and cfg.country == "DE"
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'h').resolve()}/inventory.db"
    assert cfg.crl_shards == 16 and cfg.crl_budget_bytes == 10_000_000
    assert cfg.use_pkilint and cfg.issuance_workers == 2
    assert (cfg.crl_next_update_days, cfg.crl_ca_next_update_days, cfg.crl_lookback_days) == (
        7,
        365,
        10,
    )
    assert cfg.crl_dir == (tmp_path / "h").resolve() / "crl"
    assert cfg.passphrase_file == (tmp_path / "h").resolve() / "secrets/pass"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("shards = 16\n", "shard = 16\n", "unknown key 'shard' (did you mean 'shards'?)"),
        ("workers = 2", "workers = 0", "workers: 0 is not between 1 and 64"),
        ("workers = 2", "workers = true", "expected int, got a boolean"),
        (
            'base_url = "http://pki.example.com"',
            'base_url = "https://pki.example.com"',
            "must be an http:// URL",
        ),
        ('country = "DE"', 'country = "Germany"', "not a two-letter code"),
        ("budget_bytes = 10000000", "budget_bytes = 5", "too small"),
        ("[issuance]", "[issuance", "not valid TOML"),
        ("[ca]", "[cee]\n[ca]", "unknown key 'cee'"),
        ("next_update_days = 7", "next_update_days = 11", "outside 1..10 (BR 4.9.7)"),
        ("ca_next_update_days = 365", "ca_next_update_days = 400", "outside 1..365"),
        ("lookback_days = 10", "lookback_days = 3", "at least next_update_days (7)"),
        ("smtp_port = 25", "smtp_port = 70000", "not a TCP port"),
        ('from = "ca@example.com"', 'from = "nobody"', "not an email address"),
        ("[keys]", '[keys]\npkcs11_module = "/x.so"', "pkcs11_module and pkcs11_token go together"),
        ("[keys]", "[keys]\npkcs11_token = 3", "pkcs11_token"),
    ],
)
def test_bad_config_values_name_the_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = base()
    assert old in text
    home = write(tmp_path / "h", text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(home)
    assert expected in str(info.value)
    assert CONFIG_NAME in str(info.value)


def test_missing_or_foreign_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a CA home"):
        load_config(tmp_path / "empty")
    home = write(tmp_path / "bin", "")
    (home / CONFIG_NAME).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(home)


def test_waivers_need_a_justification_and_expire(tmp_path: Path) -> None:
    waiver = (
        '\n[[waivers]]\nlint_id = "w_x"\n'
        'justification = "accepted per incident 12, see ticket"\nexpires = 2027-01-31\n'
    )
    cfg = load_config(write(tmp_path / "h", base() + waiver))
    assert cfg.waivers == (
        Waiver("w_x", "accepted per incident 12, see ticket", date(2027, 1, 31)),
    )
    assert "w_x" in cfg.waivers_in_force(datetime(2027, 1, 30, 23, 59, tzinfo=UTC))
    assert cfg.waivers_in_force(datetime(2027, 1, 31, tzinfo=UTC)) == {}
    short = waiver.replace("accepted per incident 12, see ticket", "ok")
    with pytest.raises(ConfigError, match="real justification"):
        load_config(write(tmp_path / "h2", base() + short))
    bad_date = waiver.replace("2027-01-31", '"soon"')
    with pytest.raises(ConfigError, match="not a date"):
        load_config(write(tmp_path / "h3", base() + bad_date))


def test_passphrase_from_env_or_file_never_a_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write(tmp_path / "h", base())
    cfg = load_config(home)
    monkeypatch.delenv("CERTKEEPER_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="cannot read passphrase file"):
        cfg.passphrase()
    (home / "secrets").mkdir()
    (home / "secrets/pass").write_text("s3cret\n")
    assert cfg.passphrase() == b"s3cret"
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", "from-env")
    assert cfg.passphrase() == b"from-env"
