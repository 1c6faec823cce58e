"""One CA server and one DNS server per test module (per xdist worker).

Importing `integration.acme_env` here, before any test module, puts benchmarks/ on the
import path: its `acme_client` is the ARI-capable client the tests use besides certbot
and lego.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnsserver import ChallTestSrv
from integration.acme_env import AcmeCa, tools_missing
from public_ct import PublicCt


@pytest.fixture(scope="module")
def dns() -> Iterator[ChallTestSrv]:
    if not ChallTestSrv.available():
        pytest.skip("pebble-challtestsrv is not installed (Debian package pebble)")
    with ChallTestSrv.start() as server:
        # Every name resolves to 127.0.0.1 only: the clients' servers listen there.
        server.set_default_ipv6("")
        yield server


@pytest.fixture(scope="module")
def ca(
    dns: ChallTestSrv, tmp_path_factory: pytest.TempPathFactory, public_ct: PublicCt
) -> Iterator[AcmeCa]:
    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (Debian packages certbot, lego, openssl)")
    server = AcmeCa.start(tmp_path_factory.mktemp("acme-ca"), dns, public_ct)
    try:
        yield server
    finally:
        server.stop()
