"""Fixtures shared by every test package: a real PostgreSQL server and generic helpers."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests run against the source tree even when the package is not installed.
if importlib.util.find_spec("certkeeper") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hypothesis import HealthCheck, settings

from pgserver import PostgresServer, PostgresUnavailable
from public_ct import PublicCt

# CI must pass or fail for the code, not for the examples a random seed happened to
# draw: under CI the examples are derived from the test alone (the same on every run).
# Local runs keep exploring with fresh seeds, which is where new failures are found.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server per test session (per xdist worker).

    Missing binaries are a failure, not a skip: a green run must mean PostgreSQL ran."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, for tests that stop it (outages)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    """A `postgresql+psycopg://` URL to a fresh database, shared by the session."""
    return pg_server.create_database()


@pytest.fixture
def new_pg_database(pg_server: PostgresServer) -> Callable[[], str]:
    """Make further fresh databases (one per test, when tests must not share state)."""
    return pg_server.create_database


@pytest.fixture(scope="session")
def public_ct() -> Iterator[PublicCt]:
    """Two CT test logs of distinct operators for the session's public homes (a public
    home issues only with SCTs): `public_ct.configure(home)` names them in its `[ct]`."""
    from ct.served import served_logs

    with served_logs([], ["Test Operator A", "Test Operator B"]) as logs:
        yield PublicCt(logs)


@pytest.fixture(autouse=True)
def _actor_per_test() -> Iterator[None]:
    """Each test starts with no bound actor: a command run in-process binds its --actor
    for the rest of the context, as a real process does for its one command."""
    from certkeeper.auditlog.record import acting_as

    with acting_as(None):
        yield
