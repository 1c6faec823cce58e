from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certkeeper.ca.home import CaHome
from factories import PASSPHRASE, make_home


@pytest.fixture
def fresh_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CERTKEEPER_ACTOR", "test-operator")
    home = CaHome.open(make_home(tmp_path / "home", crl_shards=4))
    yield home
    home.close()
