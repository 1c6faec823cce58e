"""Editing a profile file records a new version; the old one stays readable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from certkeeper.ca.profile_registry import ProfileRegistry
from certkeeper.errors import NotFound, ProfileError
from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory
from certkeeper.store.profile_control import ProfileControlStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path: Path) -> ProfileRegistry:
    engine = connect(sqlite_url(tmp_path / "inv.db"))
    migrate(engine)
    reg = ProfileRegistry(tmp_path / "profiles", Inventory(engine), ProfileControlStore(engine))
    reg.install_builtin(NOW)
    return reg


def test_install_records_version_one_of_each_builtin(registry: ProfileRegistry) -> None:
    assert registry.get("tls-dv-ecdsa").version == 1
    assert registry.get("tls-dv-rsa").version == 1
    assert all(not r.created for r in registry.sync(NOW))  # unchanged files: no new versions


def test_edit_makes_a_new_version_and_keeps_the_old(registry: ProfileRegistry) -> None:
    path = registry.profile_dir / "tls-dv-ecdsa.toml"
    stored = registry.get("tls-dv-ecdsa").source_sha256
    assert registry.file_state("tls-dv-ecdsa", stored).matches
    path.write_text(path.read_text().replace("validity_days = 45", "validity_days = 30"))
    assert registry.file_state("tls-dv-ecdsa", stored).paths == (path,)
    assert not registry.file_state("tls-dv-ecdsa", stored).matches
    results = {r.profile_id: r for r in registry.sync(NOW)}
    assert results["tls-dv-ecdsa"].version == 2 and results["tls-dv-ecdsa"].created
    assert results["tls-dv-rsa"].version == 1 and not results["tls-dv-rsa"].created
    assert registry.get("tls-dv-ecdsa").validity_days == 30
    assert registry.get("tls-dv-ecdsa", 1).validity_days == 45


def test_a_broken_file_records_nothing(registry: ProfileRegistry) -> None:
    good = registry.profile_dir / "tls-dv-rsa.toml"
    good.write_text(good.read_text().replace("validity_days = 45", "validity_days = 30"))
    bad = registry.profile_dir / "tls-dv-ecdsa.toml"
    bad.write_text(bad.read_text().replace("key_encipherment = false", "key_encipherment = true"))
    with pytest.raises(ProfileError, match="key_encipherment"):
        registry.sync(NOW)
    assert registry.get("tls-dv-rsa").version == 1  # the valid edit was not recorded either


def test_duplicate_ids_and_unknown_profiles_are_named(registry: ProfileRegistry) -> None:
    src = (registry.profile_dir / "tls-dv-rsa.toml").read_text()
    (registry.profile_dir / "copy.toml").write_text(src)
    with pytest.raises(ProfileError, match="also used by"):
        registry.sync(NOW)
    with pytest.raises(
        NotFound, match=r"unknown profile 'tls-ev'.*tls-dv-ecdsa, tls-dv-ecdsa-short, tls-dv-rsa"
    ):
        registry.get("tls-ev")
    with pytest.raises(NotFound, match="tls-dv-rsa version 9"):
        registry.get("tls-dv-rsa", 9)
