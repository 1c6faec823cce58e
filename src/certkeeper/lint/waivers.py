"""Lint waivers: what the gate needs to know of `[[waivers]]` in certkeeper.toml. It
lives with the linters (the pure core), and the configuration composes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Waiver:
    """An explicit, justified, expiring exception to one lint."""

    lint_id: str
    justification: str
    expires: date

    def active(self, at: datetime) -> bool:
        return at.astimezone(UTC).date() < self.expires
