"""Where worker processes keep their metrics, set up before prometheus_client loads.

prometheus_client decides at import time whether values live in process memory or in
files under PROMETHEUS_MULTIPROC_DIR, so the directory must be in the environment before
any process (the launcher included) imports it; this module imports nothing of it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TEXTFILE_ENV = "CERTKEEPER_METRICS_TEXTFILE"


def prepare_multiprocess_dir() -> None:
    """A fresh directory for the workers' metric files (before any worker starts)."""
    if os.environ.get(MULTIPROC_ENV):
        return
    directory = tempfile.mkdtemp(prefix="certkeeper-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    atexit.register(shutil.rmtree, directory, True)


def textfile_requested() -> bool:
    return bool(os.environ.get(TEXTFILE_ENV))
