"""At most `RECORD_READS_PER_WORKER` whole-record reads at once in one worker process; the others wait their turn.

Why: a burst of launches (a clinic opening, fifty clinicians at eight o'clock) becomes as many record reads a
moment later — the summary each page loads, then the checks. A record read costs tens of milliseconds of CPU here
(JSON, validation, facts, the summary) and a batch of searches at the EHR. Unbounded, they share the worker's one
core (the GIL) with the launches still signing in, so every sign-in waits behind every summary. Bounded, the short
requests (sign-in, the page itself) go through at once and the record reads follow in turn, and the EHR never sees
more than workers × this many record reads from us at the same moment. A read that cannot start within
`RECORD_READ_WAIT_SECONDS` is answered 503 with words a clinician can act on (the page shows them in the summary
area); nothing was read or written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app, g

from smart_app.web.errors import AppError
from smart_app.web.sign_ins_first import yield_to_sign_ins

EXTENSION = "spine_auth.record_reads"


class RecordReadGate:
    """A bounded semaphore with a wait limit: `with gate.slot(): ...` around a whole-record read."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1:
            raise ValueError("RECORD_READS_PER_WORKER must be at least 1")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block.

        Raises:
            AppError: 503 when no slot freed within the wait limit.
        """
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise AppError(
                503,
                "busy",
                "The app is busy",
                "Many records are being read right now, so this one did not start. Nothing was lost: reload the "
                "page in a few seconds.",
                issue_code="transient",
            )
        try:
            yield
        finally:
            self._semaphore.release()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = RecordReadGate(
        int(app.config["RECORD_READS_PER_WORKER"]), float(app.config["RECORD_READ_WAIT_SECONDS"])
    )

    @app.after_request
    def tell_the_waits(response: Response) -> Response:
        """`Server-Timing` of a record read's waits (the browser's developer tools show it; the benchmark reads it),
        in milliseconds: `sign-ins-first` (sign-ins on the machine went first), `record-read-slot` (this worker's
        other record reads went first)."""
        waits: dict[str, float] = g.get("record_read_waits", {})
        if waits:
            timings = [f"{name};dur={1000 * seconds:.1f}" for name, seconds in waits.items()]
            if response.headers.get("Server-Timing"):  # the view's own (the checklist: fetch, check)
                timings.insert(0, response.headers["Server-Timing"])
            response.headers["Server-Timing"] = ", ".join(timings)
        return response


@contextmanager
def record_read_slot() -> Iterator[None]:
    """One slot of this worker's gate (see the module docstring) around a whole-record read and its processing,
    taken once the sign-ins running on this machine are through (smart_app/web/sign_ins_first.py)."""
    g.record_read_waits = {"sign-ins-first": yield_to_sign_ins()}
    gate: RecordReadGate = current_app.extensions[EXTENSION]
    started = time.monotonic()
    try:
        with gate.slot():
            g.record_read_waits["record-read-slot"] = time.monotonic() - started
            yield
    finally:  # refused "busy": it waited this long (a read that got its slot has its wait already)
        g.record_read_waits.setdefault("record-read-slot", time.monotonic() - started)
