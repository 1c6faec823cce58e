"""The app factory every `certkeeper serve` worker process starts from: the shell's
part first (reference data where the environment says), then the status server's app.
Workers are fresh processes, so nothing the launching command set up reaches them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certkeeper.data_dir import use_installed_data

if TYPE_CHECKING:
    from certkeeper.metrics import OperationsApp


def app() -> OperationsApp:
    use_installed_data()
    from certkeeper.status.http import app_from_environment

    return app_from_environment()
