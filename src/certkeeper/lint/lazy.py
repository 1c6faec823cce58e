"""A cached property without a lock, for the lint documents' lazily parsed parts.

functools.cached_property takes an RLock on every first access in Python 3.11; a
document is parsed by one thread, and its first accesses are most of what linting a
certificate costs (benchmarks/lint_corpora.py: the lock alone was about 19 µs of the
167 µs per certificate, which kept certkeeper under 20x pkilint's speed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):
    """Compute on first access, then live in the instance's __dict__ (this descriptor is
    not consulted again: a non-data descriptor yields to the instance attribute)."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> lazy[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | lazy[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value
