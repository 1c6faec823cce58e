"""Where `certkeeper data update` installs reference data the lints use:
`$CERTKEEPER_DATA_DIR`, else `~/.local/share/certkeeper`.

The core reads no environment, so the shells do: the CLI before every command and each
server worker before it builds its app hand the location to `TldData.use_installed`.
"""

from __future__ import annotations

import os
from pathlib import Path

from certkeeper.lint.tld import FILENAME, TldData

DATA_DIR_ENV = "CERTKEEPER_DATA_DIR"


def user_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".local" / "share" / "certkeeper"


def tld_override_path() -> Path:
    return user_data_dir() / FILENAME


def use_installed_data() -> None:
    """Lint and preflight with the TLD data `data update` installed, if it did."""
    TldData.use_installed(tld_override_path())
