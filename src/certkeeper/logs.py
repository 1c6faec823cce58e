"""Structured logs: one JSON object per line (for collectors) or plain text on a
terminal, with the request id of the HTTP request being served.

Log calls across certkeeper pass their fields with `extra={...}`; this formatter writes
them out as JSON members. A request id is set per HTTP request (taken from a sane
`X-Request-Id`, or made here) and carried into every line logged while serving it.
Nothing that could be a secret is written: fields whose names say so are masked.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMAT_ENV = "CERTKEEPER_LOG_FORMAT"  # "json" or "text"; default by terminal
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "certkeeper_request_id", default=None
)
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRET_NAMES = re.compile(r"pass(word|phrase)?|secret|token|pin|private|key_pem", re.I)
# Attributes every LogRecord has: anything else came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def new_request_id(offered: bytes | None = None) -> str:
    """The client's X-Request-Id when it is short and plain, else a fresh one."""
    if offered:
        text = offered.decode("ascii", "replace")
        if _SANE_ID.fullmatch(text):
            return text
    return secrets.token_hex(8)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_"):
            continue
        fields[key] = "[redacted]" if _SECRET_NAMES.search(key) else value
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            doc["request_id"] = request_id
        doc.update(_fields(record))
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        request_id = REQUEST_ID.get()
        if request_id:
            fields = {"request_id": request_id, **fields}
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        return f"{line} {extra}" if extra else line


def configure(level: int = logging.INFO) -> None:
    """Send certkeeper's loggers to stderr, JSON unless stderr is a terminal (or as
    $CERTKEEPER_LOG_FORMAT says). Idempotent: safe in every worker process."""
    root = logging.getLogger("certkeeper")
    if any(getattr(h, "_certkeeper", False) for h in root.handlers):
        return
    chosen = os.environ.get(LOG_FORMAT_ENV) or ("text" if sys.stderr.isatty() else "json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if chosen == "text" else JsonFormatter())
    handler._certkeeper = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
