"""A small RFC 6962 client for audits: tree heads, entries, inclusion proofs.

Reads only; every request has a timeout and is retried with backoff on transport
failures and 5xx/429, because a log that stalls for a moment must not end an audit of
a million entries. Everything it returns is checked where it is used (entries parse,
proofs verify against a tree head).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from certkeeper.ct.entries import LoggedEntry, parse_entry
from certkeeper.errors import CertkeeperError


class LogError(CertkeeperError):
    """A log that cannot be read, or whose answer is malformed."""


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    timestamp: int
    root_hash: bytes
    signature: bytes  # the DigitallySigned TreeHeadSignature


class LogClient:
    def __init__(
        self, url: str, *, timeout: float = 20.0, attempts: int = 4, backoff: float = 0.5
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff

    def _get(self, name: str, **query: Any) -> Any:
        url = f"{self.url}ct/v1/{name}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        delay = self.backoff
        for attempt in range(self.attempts):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    raise LogError(f"{url}: HTTP {exc.code}") from None
                problem = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                problem = str(exc)
            if attempt + 1 < self.attempts:
                time.sleep(delay)
                delay *= 2
        raise LogError(f"{url}: {problem} ({self.attempts} attempts)")

    def tree_head(self) -> TreeHead:
        doc = self._get("get-sth")
        try:
            return TreeHead(
                int(doc["tree_size"]),
                int(doc["timestamp"]),
                base64.b64decode(doc["sha256_root_hash"], validate=True),
                base64.b64decode(doc["tree_head_signature"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LogError(f"{self.url}: malformed get-sth answer ({exc})") from None

    def entries(self, start: int, end: int, batch: int = 1000) -> Iterator[LoggedEntry]:
        """Entries start..end-1, in order; the log may answer fewer than asked."""
        index = start
        while index < end:
            doc = self._get("get-entries", start=index, end=min(end, index + batch) - 1)
            items = doc.get("entries") if isinstance(doc, dict) else None
            if not isinstance(items, list) or not items:
                raise LogError(f"{self.url}: get-entries from {index} returned no entries")
            for item in items:
                try:
                    leaf = base64.b64decode(item["leaf_input"], validate=True)
                    extra = base64.b64decode(item["extra_data"], validate=True)
                    yield parse_entry(index, leaf, extra)
                except (KeyError, TypeError, ValueError) as exc:
                    raise LogError(f"{self.url}: entry {index} is malformed ({exc})") from None
                index += 1

    def proof(self, leaf_hash: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        doc = self._get(
            "get-proof-by-hash", hash=base64.b64encode(leaf_hash).decode(), tree_size=tree_size
        )
        try:
            path = [base64.b64decode(p, validate=True) for p in doc["audit_path"]]
            return int(doc["leaf_index"]), path
        except (KeyError, TypeError, ValueError) as exc:
            raise LogError(f"{self.url}: malformed proof ({exc})") from None
