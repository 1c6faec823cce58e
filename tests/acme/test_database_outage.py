"""A real PostgreSQL server stopped under a running ACME server: every request that needs
the database is answered 503 with Retry-After (never a 500, never a traceback), the
outage and the recovery are logged once each, and service resumes when it is back."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.acme.app import AcmeApp
from certkeeper.ca.home import CaHome
from certkeeper.wiring import build
from factories import PASSPHRASE, make_home
from pgserver import PostgresServer

from .client import AcmeClient
from .conftest import UvicornThread


def test_outage_is_503_with_retry_after_and_logged_once(
    own_pg: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    url = own_pg.create_database()
    home = CaHome.open(make_home(tmp_path / "home", database_url=url))
    app = AcmeApp(build(home), warm=False)
    thread = UvicornThread(app)
    try:
        base = f"http://127.0.0.1:{thread.port}/acme/directory"
        client = AcmeClient(base, ec.generate_private_key(ec.SECP256R1()))
        client.register()
        assert client.kid is not None
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="certkeeper"):
            own_pg.pause()
            replies = [client.post(client.kid, None) for _ in range(20)]
            assert {r.status for r in replies} == {503}, [r.body for r in replies]
            assert all(r.headers.get("retry-after") == "5" for r in replies)
            assert all(r.problem == "serverInternal" for r in replies)
            # the directory and nonces need no database: still served
            assert AcmeClient(base, client.key).directory["newOrder"]
            own_pg.resume()
            after = [client.post(client.kid, None)]
            for _ in range(40):  # the database is checked again once a second at most
                if after[-1].status == 200:
                    break
                time.sleep(0.25)
                after.append(client.post(client.kid, None))
            assert {r.status for r in after} <= {200, 503}, [r.body for r in after]
            assert after[-1].status == 200, after[-1].body
        records = [r for r in caplog.records if r.name.startswith("certkeeper")]
        assert not [r for r in records if r.exc_info], "a traceback was logged"
        messages = [r.getMessage() for r in records]
        assert len([m for m in messages if m.startswith("database unavailable")]) == 1, messages
        assert len([m for m in messages if m.startswith("database reachable again")]) == 1
    finally:
        thread.stop()
        app.close()
        home.close()
