"""Strict reading of TOML tables: every unknown key and every wrong type is named.

Config files and profiles are both hand-edited TOML; a typo must be an error that says
which key in which table, never a silently ignored setting.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class TomlProblem(ValueError):
    """One problem in a TOML document; the caller wraps it in its own error type."""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TomlProblem(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TomlProblem(f"{path}: cannot read: {exc}") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlProblem(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise TomlProblem(f"{where}: not valid TOML: arrays or tables nested too deep") from None


def check_keys(table: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse keys outside `allowed`, suggesting the nearest valid one."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TomlProblem(
                f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(sorted(allowed))}"
            )


def get(
    table: dict[str, Any],
    key: str,
    kind: type[T] | tuple[type, ...],
    where: str,
    default: Any = ...,
) -> Any:
    """Fetch `key` checking its type; a missing key without a default is an error."""
    if key not in table:
        if default is ...:
            raise TomlProblem(f"{where}: missing required key {key!r}")
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # TOML booleans are ints in Python; never accept one for the other.
    if isinstance(value, bool) and bool not in kinds:
        raise TomlProblem(f"{where}.{key}: expected {_names(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise TomlProblem(
            f"{where}.{key}: expected {_names(kinds)}, got {type(value).__name__} {value!r}"
        )
    return value


def get_table(table: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = get(table, key, dict, where, default={})
    assert isinstance(value, dict)
    return value


def get_str_list(table: dict[str, Any], key: str, where: str, default: Any = ...) -> list[str]:
    value = get(table, key, list, where, default)
    if not all(isinstance(v, str) for v in value):
        raise TomlProblem(f"{where}.{key}: expected a list of strings, got {value!r}")
    return list(value)


def get_choice(
    table: dict[str, Any], key: str, choices: Iterable[str], where: str, default: Any = ...
) -> str:
    value = get(table, key, str, where, default)
    choices = list(choices)
    if value not in choices:
        raise TomlProblem(f"{where}.{key}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def get_date(table: dict[str, Any], key: str, where: str, default: Any = ...) -> date:
    value = get(table, key, (date, str), where, default)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TomlProblem(f"{where}.{key}: {value!r} is not a date (YYYY-MM-DD)") from None


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kinds)
