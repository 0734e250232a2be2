"""A per-key cache of fetched documents (discovery, JWKS), safe to share between request threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TtlCache(Generic[Value]):
    """`fetch(key)` on a miss, and again once an entry is `ttl_seconds` old; failures are not cached.

    The fetch runs outside the lock, so a slow server holds up only the callers that need its answer.
    """

    def __init__(
        self,
        fetch: Callable[[str], Value],
        *,
        ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, *, usable: Callable[[Value], bool] | None = None) -> Value:
        """The cached value while it is fresh (and `usable` accepts it), else a fresh fetch."""
        with self._lock:
            entry = self._entries.get(key)
            fresh = entry is not None and self._clock() - entry[0] < self._ttl
        if entry is not None and fresh and (usable is None or usable(entry[1])):
            return entry[1]
        value = self._fetch(key)
        with self._lock:
            self._entries[key] = (self._clock(), value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
