"""Rate limits per client address and per browser session, so one client cannot flood the app or, through it, the
EHR.

Both are application-wide limits: every request counts except health checks and static files. Counters live in
`RATE_LIMIT_STORAGE_URL`: `memory://` counts per process; `redis://…` is shared by every worker of every instance;
when that storage fails, counting goes on per process (and the storage is tried again a few seconds later) rather
than failing requests. Over a limit the answer is 429 with `Retry-After` (seconds), as a page or an
OperationOutcome. The session key is a hash of the cookie, so the counter store never holds a usable cookie. Behind
proxies set `TRUSTED_PROXY_HOPS` so the client address comes from `X-Forwarded-For` (only that many hops are
trusted).

The counting, the moving window and the storages are the `limits` library's. The few lines of Flask glue are ours:
Flask-Limiter, which did the same, cost 0.8 ms of CPU on every request (limit resolution, exemption scopes,
response headers), about a tenth of a whole sign-in, and we used none of what that bought.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from smart_app.web.errors import AppError, render_error

EXEMPT_ENDPOINTS = frozenset({"healthz", "static"})
SWEEP_INTERVAL_SECONDS = 5.0
RETRY_STORAGE_AFTER_SECONDS = 5.0
KEY_PREFIX = "spine-auth"

logger = logging.getLogger(__name__)


class SweepingMemoryStorage(MemoryStorage):
    """limits' in-process storage, swept for expired entries by one long-lived thread every few seconds.

    `MemoryStorage` starts a new timer thread (10 ms) to sweep after almost every hit: a thread start (and a wait
    for it to run) on a third of all requests, the largest part of the limiter's cost. Counting never depends on
    the sweep (each hit compares timestamps itself); the sweep only frees memory, so one daemon thread sweeping
    every `SWEEP_INTERVAL_SECONDS` does. (Overrides limits' private hook, pinned in constraints.txt;
    `tests/scale/test_rate_limits.py` and `tests/web/test_launch_path.py` prove the limits still hold.)
    """

    STORAGE_SCHEME = ["spine-auth-memory"]  # noqa: RUF012  (limits declares it a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        self._sweeper: threading.Thread | None = None
        self._sweeper_guard = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # the name limits' own calls resolve to
        """Make sure the sweeper runs (started on first use; again in a forked child, where threads are gone)."""
        sweeper = self._sweeper
        if sweeper is not None and sweeper.is_alive():
            return
        with self._sweeper_guard:
            if self._sweeper is None or not self._sweeper.is_alive():
                self._sweeper = threading.Thread(target=self._sweep_forever, name="rate-limit-sweeper", daemon=True)
                self._sweeper.start()

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(SWEEP_INTERVAL_SECONDS)
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def client_address() -> str:
    return f"address:{request.remote_addr or 'unknown'}"


def browser_session_key() -> str:
    """The browser session (a hash of its cookie), or the client address when there is no cookie yet."""
    token = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"], "")
    if not token:
        return client_address()
    return "session:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Limit:
    item: RateLimitItem
    scope: str  # "address" or "session": part of the counter's key
    key: Callable[[], str]


class RequestLimiter:
    """Counts every request against each limit, in the configured storage or, while it fails, in memory."""

    def __init__(self, limits: list[Limit], storage_uri: str) -> None:
        self.limits = limits
        in_memory = storage_uri == "memory://"
        self.storage: Storage = (
            SweepingMemoryStorage()
            if in_memory
            else cast(Storage, storage_from_string(storage_uri))  # a sync URI gives a sync storage
        )
        self._counter = MovingWindowRateLimiter(self.storage)
        # Counting in memory already: nothing to fall back to (its errors are raised as they are).
        self._fallback = self._counter if in_memory else MovingWindowRateLimiter(SweepingMemoryStorage())
        self._storage_failed_at: float | None = None

    def _strategy(self) -> MovingWindowRateLimiter:
        failed_at = self._storage_failed_at
        if failed_at is not None and time.monotonic() - failed_at < RETRY_STORAGE_AFTER_SECONDS:
            return self._fallback
        return self._counter

    def hit(self) -> None:
        """Count this request.

        Raises:
            AppError: 429 with the seconds until the first refused limit has room again.
        """
        for limit in self.limits:
            identifiers = (KEY_PREFIX, limit.scope, limit.key())
            strategy = self._strategy()
            try:
                allowed = strategy.hit(limit.item, *identifiers)
            except Exception as error:
                if strategy is self._fallback:
                    raise
                if self._storage_failed_at is None:
                    logger.warning("rate-limit storage failed (%s); counting per process", type(error).__name__)
                self._storage_failed_at = time.monotonic()
                strategy = self._fallback
                allowed = strategy.hit(limit.item, *identifiers)
            else:
                if strategy is self._counter and self._storage_failed_at is not None:
                    logger.warning("rate-limit storage is back")
                    self._storage_failed_at = None
            if not allowed:
                reset_at = strategy.get_window_stats(limit.item, *identifiers).reset_time
                raise RateLimited(max(1, math.ceil(reset_at - time.time())))


class RateLimited(AppError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            429,
            "rate-limited",
            "Too many requests",
            "Too many requests came from this session or address in a short time. Wait a moment and try again.",
            issue_code="throttled",
        )
        self.retry_after_seconds = retry_after_seconds


def init_app(app: Flask) -> RequestLimiter | None:
    """Attach the limits from the app's settings (none when `RATE_LIMIT_ENABLED` is false)."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    if not app.config.get("RATE_LIMIT_ENABLED", True):
        return None
    limiter = RequestLimiter(
        [Limit(item, "address", client_address) for item in parse_many(str(app.config["RATE_LIMIT_PER_ADDRESS"]))]
        + [
            Limit(item, "session", browser_session_key)
            for item in parse_many(str(app.config["RATE_LIMIT_PER_SESSION"]))
        ],
        str(app.config.get("RATE_LIMIT_STORAGE_URL") or "memory://"),
    )

    @app.before_request
    def count_request() -> None:
        if request.endpoint not in EXEMPT_ENDPOINTS:
            limiter.hit()

    @app.errorhandler(RateLimited)
    def too_many_requests(error: RateLimited) -> Response:
        response = render_error(error)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    return limiter
