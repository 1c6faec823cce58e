"""The app factory every `certkeeper serve` worker process starts from: the shell's
part first (reference data where the environment says), then the CA from the
composition root, then the app the mode asks for: the OCSP responder, the ACME server,
or both beside the CRL files and issuer certificates. Workers are fresh processes, so
nothing the launching command set up reaches them: what they serve comes from
$CERTKEEPER_HOME and $CERTKEEPER_SERVE."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper.data_dir import use_installed_data

if TYPE_CHECKING:
    from certkeeper.acme.app import AcmeApp
    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.metrics import OperationsApp
    from certkeeper.status.http import StatusApp
    from certkeeper.status.responder import OcspResponder
    from certkeeper.store.inventory import Inventory
    from certkeeper.wiring import Ca


def app() -> OperationsApp:
    use_installed_data()
    return app_from_environment()


HOME_ENV = "CERTKEEPER_HOME"
# "ocsp": the responder alone; "acme": the ACME server alone; "all": OCSP, CRLs, issuers, ACME
MODE_ENV = "CERTKEEPER_SERVE"


def app_from_environment() -> OperationsApp:
    """ASGI factory for server worker processes: each opens the CA home named in
    $CERTKEEPER_HOME itself. The OCSP responder only reads; the ACME app loads a CA key
    (with the passphrase) only when a finalize signs."""
    from certkeeper.acme.app import AcmeApp
    from certkeeper.ca.home import CaHome
    from certkeeper.http_limits import body_seconds_from_environment
    from certkeeper.status.http import StatusApp
    from certkeeper.status.responder import OcspResponder
    from certkeeper.wiring import build

    # `serve` checked the database before starting workers. A worker (re)started while
    # the database is down must come up and answer /readyz 503, not fail to start.
    home = CaHome.open(Path(os.environ.get(HOME_ENV, "ca-home")), check_database=False)
    ca = build(home)
    mode = os.environ.get(MODE_ENV, "all")
    body_seconds = body_seconds_from_environment()
    ocsp = OcspResponder(ca.stores.ocsp, accept_root=mode == "ocsp", body_seconds=body_seconds)
    app: OcspResponder | StatusApp | AcmeApp = ocsp
    if mode != "ocsp":
        acme = AcmeApp(ca, body_seconds=body_seconds)
        app = (
            acme
            if mode == "acme"
            else StatusApp(ca.stores.inventory, ca.config.crl_dir, ocsp=ocsp, acme=acme)
        )
    return _with_operations(app, mode, ca)


def _with_operations(app: OcspResponder | StatusApp | AcmeApp, mode: str, ca: Ca) -> OperationsApp:
    """/metrics, /healthz and /readyz beside the service, and every request counted."""
    from certkeeper.logs import configure as configure_logging
    from certkeeper.metrics import (
        OperationsApp,
        adopt_multiprocess_mode,
        status_ready_checks,
        utc_now,
    )
    from certkeeper.status.inventory_metrics import InventoryCollector

    adopt_multiprocess_mode()
    configure_logging()
    checks = status_ready_checks(ca.stores.engine, utc_now)
    if mode != "ocsp":  # ACME finalize signs: the issuing keys must load
        checks.append(lambda: _signers_usable(ca.stores.inventory, ca.issuers))
    inventory = InventoryCollector(
        ca.stores.inventory, ca.config.crl_budget_bytes, utc_now, crl_dir=ca.config.crl_dir
    )
    return OperationsApp(app, mode, inventory=inventory, ready_checks=checks)


def _signers_usable(inventory: Inventory, keys: IssuerKeys) -> str | None:
    from certkeeper.errors import CertkeeperError

    try:
        for issuer in inventory.issuers():
            if issuer.role == "issuing" and issuer.state == "active":
                keys.signer(issuer)
    except CertkeeperError as exc:
        return f"signer unusable: {exc}"
    return None
