"""A CA home's inventory schema: which revision it is at, and upgrading it.

New certkeeper releases may ship new migrations; `certkeeper db upgrade` applies them
(SQLite or PostgreSQL). A database at a revision this code does not know was written by
a newer release and is refused, never "upgraded" by older code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certkeeper.config import load_config
from certkeeper.store.database import check_upgradable, connect, head_revision, upgrade


@dataclass(frozen=True)
class SchemaStatus:
    database: str  # the URL, password hidden
    current: str | None  # None: never migrated
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def required_revision() -> str:
    """The schema revision this release needs (what `--version` names)."""
    return head_revision()


def schema_status(home: Path) -> SchemaStatus:
    config = load_config(home)
    engine = connect(config.database_url)
    try:
        return SchemaStatus(_shown(config.database_url), check_upgradable(engine), head_revision())
    finally:
        engine.dispose()


def upgrade_schema(home: Path) -> tuple[str | None, str]:
    """(revision before, revision after) of the home's inventory."""
    config = load_config(home)
    engine = connect(config.database_url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()
