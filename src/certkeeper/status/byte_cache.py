"""An in-process cache bounded by bytes, not entries.

A bound by entry count alone lets a client choose the size of each entry: 200,000 OCSP
requests of 4 KB each held about 0.8 GB per worker. Here every entry is charged its
payload plus a fixed overhead, and the oldest entries leave first once the budget is
reached; an entry larger than the whole budget is not kept at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

ENTRY_OVERHEAD = 200  # dict slot, key and value objects: measured order of magnitude


class ByteBoundedCache(Generic[K, V]):
    """Insertion-ordered (a replaced entry moves to the end); evicts from the front."""

    def __init__(self, max_bytes: int, size: Callable[[K, V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._items: dict[K, tuple[int, V]] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        return None if item is None else item[1]

    def put(self, key: K, value: V) -> None:
        self.discard(key)
        cost = self._size(key, value) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        self._items[key] = (cost, value)
        self.bytes += cost
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._items))
            self.bytes -= self._items.pop(oldest)[0]

    def discard(self, key: K) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[0]
