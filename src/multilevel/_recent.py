"""The most recently used values by key: compiled programs a process keeps in memory."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    """At most `size` values, the least recently used dropped first.

    Example:
        >>> recent = Recent(2)
        >>> recent.get("a", lambda: 1), recent.get("b", lambda: 2), recent.get("a", lambda: 9)
        (1, 2, 1)
        >>> recent.get("c", lambda: 3); recent.get("b", lambda: 8)  # "b" was dropped
        3
        8
    """

    def __init__(self, size: int):
        self.size = size
        self._values: dict[Hashable, V] = {}

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of `key`, made by `make()` when it is not kept."""
        value = self._values.pop(key) if key in self._values else make()
        self._values[key] = value
        while len(self._values) > self.size:
            self._values.pop(next(iter(self._values)))
        return value
