"""Rate limits per client address and per browser session (Flask-Limiter), so one client cannot flood the app or,
through it, the EHR.

Both are application-wide limits: every request counts except health checks and static files. Counters live in
`RATE_LIMIT_STORAGE_URL`: `memory://` counts per process; `redis://…` is shared by every worker of every instance.
Over a limit the answer is 429 with `Retry-After` (seconds), as a page or an OperationOutcome. The session key is
a hash of the cookie, so the counter store never holds a usable cookie. Behind proxies set `TRUSTED_PROXY_HOPS` so
the client address comes from `X-Forwarded-For` (only that many hops are trusted).
"""

from __future__ import annotations

import hashlib
import threading
import time

from flask import Flask, Response, current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.errors import RateLimitExceeded
from limits.storage import MemoryStorage
from werkzeug.middleware.proxy_fix import ProxyFix

from smart_app.web.errors import AppError, render_error

EXEMPT_ENDPOINTS = frozenset({"healthz", "static"})
SWEEP_INTERVAL_SECONDS = 5.0


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


def _storage_uri(configured: str) -> str:
    """`memory://` counts in `SweepingMemoryStorage` (the same counting, cheaper upkeep); others as given."""
    return "spine-auth-memory://" if configured == "memory://" else configured


def _exempt() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS


def init_app(app: Flask) -> Limiter | None:
    """Attach the limits from the app's settings (none when `RATE_LIMIT_ENABLED` is false)."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    if not app.config.get("RATE_LIMIT_ENABLED", True):
        return None
    limiter = Limiter(
        client_address,
        app=app,
        application_limits=[
            ApplicationLimit(
                str(app.config["RATE_LIMIT_PER_ADDRESS"]),
                key_function=client_address,
                scope="address",
                exempt_when=_exempt,
            ),
            ApplicationLimit(
                str(app.config["RATE_LIMIT_PER_SESSION"]),
                key_function=browser_session_key,
                scope="session",
                exempt_when=_exempt,
            ),
        ],
        storage_uri=_storage_uri(str(app.config.get("RATE_LIMIT_STORAGE_URL") or "memory://")),
        strategy="moving-window",
        headers_enabled=True,
        key_prefix="spine-auth",
        in_memory_fallback_enabled=True,  # a Redis outage degrades to per-process counting, not to errors
    )

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(error: RateLimitExceeded) -> Response:
        return render_error(
            AppError(
                429,
                "rate-limited",
                "Too many requests",
                "Too many requests came from this session or address in a short time. Wait a moment and try again.",
                issue_code="throttled",
            )
        )

    return limiter
