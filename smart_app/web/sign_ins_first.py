"""Sign-ins first: a whole-record read waits while sign-in requests are running on this machine.

Why: a burst of launches (a clinic opening, fifty clinicians at eight o'clock) is a burst of sign-ins, each a chain
of short requests (`/launch`, `/callback`, the patient page) through the app and the EHR's authorization server,
and a moment later as many record reads (the summary each page loads, then the checks). A record read costs a few
times the CPU of a whole sign-in (JSON, validation, facts, and the EHR's own work answering it). Shared fairly, the
cores serve every sign-in as slowly as the reads of those who already signed in, and the last clinician to get a
page waits for all the summaries before theirs. A sign-in that stalls can fail (authorization codes and launch
states expire); a summary that waits only shows its progress a little longer. So a record read does not start
while a sign-in request is running anywhere on the machine (any worker, any instance), for at most
`SIGN_IN_FIRST_SECONDS`; then it goes ahead regardless, so no stream of sign-ins can starve it.

How: a small shared-memory board (`SIGN_IN_BOARD_PATH`, default a file in /dev/shm per user) with one slot per
thread: a sign-in request writes its start time into its thread's slot and clears it when it ends. "Running" is a
slot written in the last `STALE_AFTER_SECONDS` (a worker killed mid-request leaves a slot that soon stops
counting). Only CPU-bound moments count: the browser's hops through the authorization server in between are not
on the board, so a clinician typing a password at the EHR holds nobody up. Two threads sharing a slot (thread ids
modulo the slot count) can hide one another's sign-in: a read may start a little early, never wait for nothing.
"""

from __future__ import annotations

import logging
import mmap
import os
import tempfile
import threading
import time
from array import array
from pathlib import Path

from flask import Flask, current_app, g, request

EXTENSION = "spine_auth.sign_ins_first"
SLOTS = 4096
SLOT_BYTES = 8
STALE_AFTER_SECONDS = 10.0
POLL_SECONDS = 0.02
# After a sign-in request ends, its next hop (the browser through the authorization server, back to the app) is due
# within milliseconds when nobody types anything: the board counts the sign-in as running that much longer.
GRACE_SECONDS = 0.1
# The requests of a sign-in that run in the app (blueprint endpoint names).
SIGN_IN_ENDPOINTS = frozenset({"launch.launch", "launch.callback", "patient.summary"})

logger = logging.getLogger(__name__)


def default_board_path() -> Path:
    """Shared memory when the machine has it (no disk writes), else the temporary directory; one board per user."""
    shm = Path("/dev/shm")
    folder = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return folder / f"spine-auth-sign-ins-{os.getuid()}"


class SignInBoard:
    """Which threads on this machine are running a sign-in request right now (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        size = SLOTS * SLOT_BYTES
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < size:
                os.ftruncate(descriptor, size)  # zero-filled; a board already in use keeps its size and slots
            self._memory = mmap.mmap(descriptor, size)
        finally:
            os.close(descriptor)
        self._zeros = bytes(size)
        self._lock = threading.Lock()
        self._quiet = threading.Event()
        self._waiting = 0
        self._polling = False

    def _write_slot(self, value: float) -> None:
        """This thread's slot (thread id modulo SLOTS) := value."""
        offset = (threading.get_native_id() % SLOTS) * SLOT_BYTES
        self._memory[offset : offset + SLOT_BYTES] = array("d", [value]).tobytes()

    def enter(self) -> None:
        self._write_slot(time.monotonic())

    def leave(self) -> None:
        """The slot keeps the end time, negated: the next hop of a sign-in follows within GRACE_SECONDS."""
        self._write_slot(-time.monotonic())

    def clear(self) -> None:
        """Empty this thread's slot at once (no grace): its request stopped being a sign-in hop."""
        self._write_slot(0.0)

    def busy(self) -> bool:
        """Whether a sign-in request started in the last STALE_AFTER_SECONDS is still running, or one ended less
        than GRACE_SECONDS ago."""
        snapshot = self._memory[:]
        if snapshot == self._zeros:
            return False
        slots = array("d", snapshot)
        now = time.monotonic()
        return max(slots) > now - STALE_AFTER_SECONDS or -min(slots) > now - GRACE_SECONDS

    def wait_until_quiet(self, longest_seconds: float) -> float:
        """Block while sign-ins run, at most `longest_seconds`; returns the seconds waited.

        One thread per process polls the board for all the waiting ones (see `_poll`): dozens of waiting threads
        each waking every few milliseconds would take the GIL from the very sign-ins they wait for."""
        if not self.busy():
            return 0.0
        started = time.monotonic()
        with self._lock:
            self._waiting += 1
            self._quiet.clear()
            if not self._polling:
                self._polling = True
                threading.Thread(target=self._poll, name="sign-ins-first", daemon=True).start()
        try:
            self._quiet.wait(timeout=longest_seconds)
        finally:
            with self._lock:
                self._waiting -= 1
        return time.monotonic() - started

    def _poll(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._polling = False
                    return
            if self.busy():
                self._quiet.clear()
            else:
                self._quiet.set()
            time.sleep(POLL_SECONDS)


def init_app(app: Flask) -> None:
    longest = float(app.config["SIGN_IN_FIRST_SECONDS"])
    if longest <= 0:
        return
    path = Path(app.config.get("SIGN_IN_BOARD_PATH") or default_board_path())
    try:
        board = SignInBoard(path)
    except OSError as error:  # the order of requests is an optimisation: the app works without it
        logger.warning("sign-ins first is off: the board %s cannot be opened (%s)", path, error.strerror)
        return
    app.extensions[EXTENSION] = board

    @app.before_request
    def mark_sign_in() -> None:
        if request.endpoint in SIGN_IN_ENDPOINTS:
            board.enter()
            g.sign_in_marked = True

    @app.teardown_request
    def clear_sign_in(_error: BaseException | None) -> None:
        if g.pop("sign_in_marked", False):
            board.leave()


def yield_to_sign_ins() -> float:
    """Before a whole-record read: let the sign-ins running on this machine finish first (bounded wait); returns
    the seconds waited."""
    board: SignInBoard | None = current_app.extensions.get(EXTENSION)
    if board is None:
        return 0.0
    if g.pop("sign_in_marked", False):  # the JSON of the patient page reads the record: it is no sign-in hop now
        board.clear()
    return board.wait_until_quiet(float(current_app.config["SIGN_IN_FIRST_SECONDS"]))
