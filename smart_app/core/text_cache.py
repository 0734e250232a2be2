"""A bounded, thread-safe LRU for pure functions of free text, keyed by a digest of the arguments.

The clinical summary and the checklist read the same report and note texts again and again (each launch of a
patient, each check): the regex work on a text is a pure function of it, so its answer is kept by a 16-byte
BLAKE2b digest of the arguments. The key holds no text; the values are what the function returned (for
`text_findings` short snippets of the text), kept in this process's memory only, evicted oldest first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


def text_digest(*parts: str | None) -> bytes:
    """A digest of the parts, each length-prefixed (no two argument lists share one; None and '' differ)."""
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = b"" if part is None else part.encode("utf-8")
        hasher.update((-1 if part is None else len(data)).to_bytes(8, "big", signed=True))
        hasher.update(data)
    return hasher.digest()


class DigestCache(Generic[V]):
    """Answers by digest, at most `size` of them (`size` 0 keeps nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, digest: bytes, compute: Callable[[], V]) -> V:
        with self._lock:
            if digest in self._answers:
                self._answers.move_to_end(digest)
                self.hits += 1
                return self._answers[digest]
            self.misses += 1
        answer = compute()  # outside the lock: two threads may compute the same answer, both correct
        if self.size > 0:
            with self._lock:
                self._answers[digest] = answer
                self._answers.move_to_end(digest)
                while len(self._answers) > self.size:
                    self._answers.popitem(last=False)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)
