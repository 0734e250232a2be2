"""When to retry a FHIR request and how long to wait: exponential backoff, `Retry-After`, and replay safety.

Rules:
- 429 is retried for every method: the server says it did not process the request.
- 502, 503, 504 and transport errors are retried only when a replay is safe: GET/HEAD/PUT/DELETE, a POST search,
  a batch of reads, a conditional create (`If-None-Exist`) or a transaction made only of those (a replay finds
  what the first attempt wrote). Callers can override for a POST they know is safe.
- A connect timeout is retried for every method: the request never left.
- `Retry-After` (seconds or an HTTP date) is honoured; when it asks for longer than `max_retry_after` the client
  gives up at once with the typed error (and the delay) instead of blocking a clinician for minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

RETRY_STATUSES_ALWAYS: frozenset[int] = frozenset({429})
RETRY_STATUSES_IF_SAFE: frozenset[int] = frozenset({502, 503, 504})
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry, and the backoff: `backoff_factor * 2**attempt`, at most `max_backoff` seconds."""

    retries: int = 3
    backoff_factor: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 15.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt + 1` when the server gave no Retry-After."""
        return float(min(self.max_backoff, self.backoff_factor * (2**attempt)))

    def should_retry_status(self, status: int, *, replay_safe: bool) -> bool:
        return status in RETRY_STATUSES_ALWAYS or (replay_safe and status in RETRY_STATUSES_IF_SAFE)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def entry_is_replay_safe(entry: Any) -> bool:
    """A Bundle entry whose replay changes nothing more: a read, PUT, DELETE, or a conditional create."""
    if not isinstance(entry, Mapping):
        return False
    request = entry.get("request")
    if not isinstance(request, Mapping):
        return False
    method = str(request.get("method", "")).upper()
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and bool(request.get("ifNoneExist"))


def bundle_is_replay_safe(entries: Iterable[Any]) -> bool:
    """True when every entry of a batch/transaction can be sent twice without creating anything twice."""
    return all(entry_is_replay_safe(entry) for entry in entries)
