"""The inventory's figures at each /metrics scrape, read by the status server that
serves them; `certkeeper.metrics` names and shapes them, without reading a service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from certkeeper.metrics import ceremony_gauges, database_up, pool_gauges, status_gauges
from certkeeper.status.ceremony_due import CEREMONY_MARGIN, CeremonyDue, ceremonies_due
from certkeeper.store.database import UNAVAILABLE_ERRORS
from certkeeper.store.health import health_figures
from certkeeper.store.inventory import Inventory


class InventoryCollector(Collector):
    """Gauges computed from the inventory (and, with `crl_dir`, the offline root's CA
    CRL installed there) at each scrape, and its connection pool's."""

    def __init__(
        self,
        inventory: Inventory,
        crl_budget_bytes: int,
        clock: Callable[[], datetime],
        crl_dir: Path | None = None,
    ):
        self.inventory = inventory
        self.budget = crl_budget_bytes
        self.clock = clock
        self.crl_dir = crl_dir

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        try:
            figures = health_figures(self.inventory.engine, now)
            dues: list[CeremonyDue] = (
                [] if self.crl_dir is None else ceremonies_due(self.inventory, self.crl_dir, now)
            )
        except UNAVAILABLE_ERRORS:
            yield database_up(False)
            return
        yield database_up(True)
        yield from status_gauges(figures, now, self.budget)
        yield from ceremony_gauges(dues, now, CEREMONY_MARGIN)
        yield from pool_gauges(self.inventory.engine)
