"""CT log lists in Chrome's v3 JSON schema (log_list.json), parsed and checked.

Pure: JSON text in, a frozen `LogList` out. Every problem is one `LogListError` line
naming the file and the JSON path (operators[1].logs[0].key), because a CA that
submits to the wrong key or URL finds out only when a browser rejects its certificates.
Only the `logs` array (RFC 6962 logs) is read; `tiled_logs` are accepted and ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from certkeeper.ct.sct import log_id_of, log_key
from certkeeper.errors import ConfigError

STATES = ("pending", "qualified", "usable", "readonly", "retired", "rejected")
# Logs a CA may submit to for a new certificate (Chrome's "Qualified" and "Usable").
SUBMITTABLE_STATES = frozenset({"qualified", "usable"})


class LogListError(ConfigError):
    """The log list is missing, not JSON, or breaks the v3 schema."""


@dataclass(frozen=True)
class CtLog:
    operator: str
    description: str
    log_id: bytes
    key: bytes  # DER SubjectPublicKeyInfo
    url: str  # base URL ending in "/"; RFC 6962 endpoints live under ct/v1/
    mmd: int
    state: str
    state_since: datetime | None
    interval_start: datetime | None  # temporal_interval.start_inclusive
    interval_end: datetime | None  # temporal_interval.end_exclusive

    def accepts_expiry(self, not_after: datetime) -> bool:
        """Whether a certificate expiring at `not_after` belongs in this (shard of a) log."""
        if self.interval_start is not None and not_after < self.interval_start:
            return False
        return not (self.interval_end is not None and not_after >= self.interval_end)

    @property
    def submittable(self) -> bool:
        return self.state in SUBMITTABLE_STATES

    def endpoint(self, name: str) -> str:
        return f"{self.url}ct/v1/{name}"


@dataclass(frozen=True)
class LogList:
    logs: tuple[CtLog, ...]
    timestamp: datetime | None = None

    def by_id(self, log_id: bytes) -> CtLog | None:
        for log in self.logs:
            if log.log_id == log_id:
                return log
        return None


def load_log_list(path: str) -> LogList:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LogListError(f"CT log list {path}: cannot read: {exc.strerror or exc}") from None
    return _parsed(text, path)


@lru_cache(maxsize=8)
def _parsed(text: str, path: str) -> LogList:
    """The list as parsed before when the file still says the same (every ACME finalize
    builds an SCT source and the issuance service's own check, each reading the list)."""
    return parse_log_list(text, path)


def parse_log_list(text: str, where: str) -> LogList:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LogListError(f"CT log list {where}: not JSON: {exc}") from None
    p = _Path(where)
    root = p.obj(doc, "")
    operators = p.field(root, "", "operators", list)
    logs: list[CtLog] = []
    seen: dict[bytes, str] = {}
    names: set[str] = set()
    for i, op in enumerate(operators):
        at = f"operators[{i}]"
        op = p.obj(op, at)
        name = p.field(op, at, "name", str).strip()
        if not name:
            raise p.error(f"{at}.name", "empty")
        if name in names:
            raise p.error(f"{at}.name", f"operator {name!r} listed twice")
        names.add(name)
        for j, raw in enumerate(p.field(op, at, "logs", list)):
            log = _log(p, raw, f"{at}.logs[{j}]", name)
            if log.log_id in seen:
                raise p.error(f"{at}.logs[{j}]", f"log id also used by {seen[log.log_id]}")
            seen[log.log_id] = f"{at}.logs[{j}]"
            logs.append(log)
    stamp = root.get("log_list_timestamp")
    return LogList(tuple(logs), p.time(stamp, "log_list_timestamp") if stamp else None)


def _log(p: _Path, raw: Any, at: str, operator: str) -> CtLog:
    obj = p.obj(raw, at)
    key = p.b64(p.field(obj, at, "key", str), f"{at}.key")
    try:
        log_key(key)
    except ValueError as exc:
        raise p.error(f"{at}.key", str(exc)) from None
    log_id = p.b64(p.field(obj, at, "log_id", str), f"{at}.log_id")
    if log_id != log_id_of(key):
        raise p.error(f"{at}.log_id", "is not the SHA-256 of the key (RFC 6962 3.2)")
    url = p.field(obj, at, "url", str)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise p.error(f"{at}.url", f"{url!r} is not an http(s) base URL")
    if not url.endswith("/"):
        url += "/"
    mmd = obj.get("mmd", 86400)
    if not isinstance(mmd, int) or isinstance(mmd, bool) or mmd <= 0:
        raise p.error(f"{at}.mmd", f"{mmd!r} is not a positive number of seconds")
    state, since = _state(p, obj.get("state"), f"{at}.state")
    start = end = None
    if "temporal_interval" in obj:
        ti_at = f"{at}.temporal_interval"
        ti = p.obj(obj["temporal_interval"], ti_at)
        start = p.time(p.field(ti, ti_at, "start_inclusive", str), f"{ti_at}.start_inclusive")
        end = p.time(p.field(ti, ti_at, "end_exclusive", str), f"{ti_at}.end_exclusive")
        if not start < end:
            raise p.error(ti_at, "start_inclusive is not before end_exclusive")
    return CtLog(
        operator=operator,
        description=str(obj.get("description", "")),
        log_id=log_id,
        key=key,
        url=url,
        mmd=mmd,
        state=state,
        state_since=since,
        interval_start=start,
        interval_end=end,
    )


def _state(p: _Path, raw: Any, at: str) -> tuple[str, datetime | None]:
    if raw is None:
        return "pending", None  # no state: not yet in any browser's list
    obj = p.obj(raw, at)
    if len(obj) != 1:
        raise p.error(at, f"needs exactly one state, has {len(obj)}")
    ((name, value),) = obj.items()
    if name not in STATES:
        raise p.error(at, f"unknown state {name!r} (one of {', '.join(STATES)})")
    inner = p.obj(value, f"{at}.{name}")
    stamp = inner.get("timestamp")
    return name, p.time(stamp, f"{at}.{name}.timestamp") if stamp is not None else None


class _Path:
    """Error messages that name the file and the JSON path."""

    def __init__(self, where: str) -> None:
        self.where = where

    def error(self, at: str, problem: str) -> LogListError:
        return LogListError(f"CT log list {self.where}: {at or 'top level'}: {problem}")

    def obj(self, value: Any, at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(at, f"expected an object, got {type(value).__name__}")
        return value

    def field(self, obj: dict[str, Any], at: str, key: str, kind: type) -> Any:
        name = f"{at}.{key}" if at else key
        if key not in obj:
            raise self.error(name, "missing")
        value = obj[key]
        if not isinstance(value, kind):
            raise self.error(name, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def b64(self, value: str, at: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.error(at, "not base64") from None

    def time(self, value: Any, at: str) -> datetime:
        if not isinstance(value, str):
            raise self.error(at, "expected an RFC 3339 time string")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(at, f"{value!r} is not an RFC 3339 time") from None
        if parsed.tzinfo is None:
            raise self.error(at, f"{value!r} has no time zone")
        return parsed.astimezone(UTC)


def iter_submittable(loglist: LogList, not_after: datetime) -> Iterator[CtLog]:
    """Logs a certificate with this notAfter may be submitted to, in list order."""
    for log in loglist.logs:
        if log.submittable and log.accepts_expiry(not_after):
            yield log


def render_log_list(logs: list[tuple[str, str, bytes, str]], timestamp: datetime) -> str:
    """A v3 log list for (operator, description, key, url) tuples: what a staging home
    or a test writes for its own logs. Every log is "usable" from `timestamp`."""
    ops: dict[str, list[dict[str, Any]]] = {}
    stamp = timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for operator, description, key, url in logs:
        ops.setdefault(operator, []).append(
            {
                "description": description,
                "log_id": base64.b64encode(log_id_of(key)).decode(),
                "key": base64.b64encode(key).decode(),
                "url": url,
                "mmd": 86400,
                "state": {"usable": {"timestamp": stamp}},
            }
        )
    doc = {
        "version": "1.0",
        "log_list_timestamp": stamp,
        "operators": [
            {"name": name, "email": [], "logs": logs_, "tiled_logs": []}
            for name, logs_ in ops.items()
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def add_to_log_list(
    path: str, operator: str, description: str, key: bytes, url: str, timestamp: datetime
) -> None:
    """Write `path` as a v3 log list holding this log and the logs already in it (the
    same key or URL replaced): how several staging logs share one list. Every log is
    written "usable"; a list with other states is not one to manage this way."""
    logs: list[tuple[str, str, bytes, str]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise LogListError(f"CT log list {path}: cannot read: {exc.strerror or exc}") from None
    if text:
        for log in parse_log_list(text, path).logs:
            if log.key != key and log.url != (url if url.endswith("/") else url + "/"):
                logs.append((log.operator, log.description, log.key, log.url))
    logs.append((operator, description, key, url))
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(render_log_list(logs, timestamp))
    os.replace(tmp, path)
