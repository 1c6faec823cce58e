"""The responder's and the CRL front end's caches are bounded by bytes: a client that
sends many large distinct requests cannot make a worker hold more than the budget."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.status.byte_cache import ENTRY_OVERHEAD, ByteBoundedCache
from certkeeper.status.http import StatusApp
from certkeeper.status.responder import OcspResponder
from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory
from certkeeper.store.ocsp_repo import OcspStore


@given(st.lists(st.tuples(st.integers(0, 40), st.binary(max_size=600)), max_size=200))
def test_cache_never_exceeds_its_budget(puts: list[tuple[int, bytes]]) -> None:
    cache: ByteBoundedCache[int, bytes] = ByteBoundedCache(2_000, lambda _, v: len(v))
    for key, value in puts:
        cache.put(key, value)
        assert cache.bytes <= 2_000
        # the newest entry is always kept (each fits), and the count matches the bytes
        assert cache.get(key) == value
    if puts:
        kept = {k: v for k, v in puts}  # last value per key, in the order they were put
        held = {k: cache.get(k) for k in kept if cache.get(k) is not None}
        assert cache.bytes == sum(len(v or b"") + ENTRY_OVERHEAD for v in held.values())
        assert all(held[k] == kept[k] for k in held)


def test_an_entry_over_the_whole_budget_is_not_kept() -> None:
    cache: ByteBoundedCache[str, bytes] = ByteBoundedCache(1_000, lambda _, v: len(v))
    cache.put("small", b"x" * 10)
    cache.put("huge", b"x" * 5_000)
    assert cache.get("huge") is None and cache.get("small") == b"x" * 10


def _asgi(app: Any, method: str, path: str, body: bytes, ctype: bytes = b"") -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", ctype)] if ctype else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def test_ocsp_request_cache_is_bounded_by_bytes(tmp_path: Path) -> None:
    engine = connect(sqlite_url(tmp_path / "db.sqlite"))
    migrate(engine)
    budget = 256 * 1024
    responder = OcspResponder(OcspStore(engine), request_cache_bytes=budget)
    for _ in range(800):  # 800 distinct 2 KB bodies: 1.6 MB if all were kept
        status = _asgi(responder, "POST", "/ocsp", os.urandom(2000), b"application/ocsp-request")
        assert status == 200  # malformedRequest
    assert responder._keys.bytes <= budget
    assert 0 < len(responder._keys) < 800


def test_crl_path_cache_is_bounded_by_bytes(tmp_path: Path) -> None:
    engine = connect(sqlite_url(tmp_path / "db.sqlite"))
    migrate(engine)
    budget = 64 * 1024
    ocsp = OcspResponder(OcspStore(engine))
    app = StatusApp(Inventory(engine), tmp_path, ocsp=ocsp, crl_cache_bytes=budget)
    for i in range(2_000):  # paths that name no file are looked up, and remembered
        assert _asgi(app, "GET", f"/crl/{'x' * 100}{i}/{i}.crl", b"") == 404
    assert app._crls.bytes <= budget
    assert len(app._crls) < 2_000
