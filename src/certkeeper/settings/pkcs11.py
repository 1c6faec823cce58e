"""Where a PKCS#11 token is: plain data, so reading the config never loads a module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TokenConfig:
    module: Path  # the PKCS#11 module (.so), e.g. /usr/lib/softhsm/libsofthsm2.so
    token: str  # token label
