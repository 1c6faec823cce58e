from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certkeeper.ca.home import CaHome
from factories import PASSPHRASE, make_home


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA home for tests that only add certificates to it."""
    return make_home(tmp_path_factory.mktemp("ca") / "home")


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)


@pytest.fixture
def ca(shared_home: Path, passphrase_env: None) -> Iterator[CaHome]:
    home = CaHome.open(shared_home)
    yield home
    home.close()


@pytest.fixture
def fresh_ca(tmp_path: Path, passphrase_env: None) -> Iterator[CaHome]:
    """A CA home of the test's own, for tests that change profiles or config."""
    home = CaHome.open(make_home(tmp_path / "home"))
    yield home
    home.close()
