"""Sign-ins first (smart_app/web/sign_ins_first.py, issue 13): a whole-record read waits while a sign-in request runs
anywhere on the machine, at most SIGN_IN_FIRST_SECONDS, and says how long in `Server-Timing`. The board is shared
memory: another process (standing in for another worker or instance) is a real second Python process here. Through
the real app in front of the sandbox EHR for the summary; the board itself unit-tested for its rules."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from flask import Response, request

from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.web.sign_ins_first import (
    EXTENSION,
    GRACE_SECONDS,
    SLOT_BYTES,
    STALE_AFTER_SECONDS,
    SignInBoard,
    default_board_path,
)
from tests.web.conftest import Browser, RunningApp, seeded_on, smart_app
from tests.web.flows import ehr_launch, summary_src

FIRST = "lumbar-mbb-first-left-ready"
SECOND = "pars-chronic-defect-edema-ready"
LONGEST = 1.5  # SIGN_IN_FIRST_SECONDS of the app under test

OTHER_WORKER = """
import sys, time
from pathlib import Path
from smart_app.web.sign_ins_first import SignInBoard
board = SignInBoard(Path(sys.argv[1]))
board.enter()
print("signing in", flush=True)
time.sleep(float(sys.argv[2]))
board.leave()
print("signed in", flush=True)
"""


class OtherWorker:
    """A second process on the machine running one sign-in request for `seconds` on the same board."""

    def __init__(self, board_path: Path, seconds: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", OTHER_WORKER, str(board_path), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "signing in"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def server_timing(response: Any, name: str) -> float:
    """Milliseconds of `name` in the response's Server-Timing."""
    found = re.search(rf"{name};dur=([\d.]+)", response.headers.get("Server-Timing", ""))
    assert found, response.headers.get("Server-Timing")
    return float(found.group(1))


# ---- the board ----


def test_a_running_sign_in_is_seen_until_it_ends_and_a_moment_after(tmp_path: Path) -> None:
    board = SignInBoard(tmp_path / "board")
    assert not board.busy()
    board.enter()
    assert board.busy()
    board.leave()
    assert board.busy()  # its next hop is due within the grace
    time.sleep(GRACE_SECONDS + 0.05)
    assert not board.busy()


def test_a_slot_left_by_a_killed_worker_stops_counting(tmp_path: Path) -> None:
    board = SignInBoard(tmp_path / "board")
    with open(tmp_path / "board", "r+b") as raw:  # a sign-in that started long ago and never ended
        raw.seek(7 * SLOT_BYTES)
        raw.write(array("d", [time.monotonic() - STALE_AFTER_SECONDS - 1]).tobytes())
    assert not board.busy()


def test_the_wait_ends_when_the_sign_in_ends_and_never_lasts_longer_than_asked(tmp_path: Path) -> None:
    board = SignInBoard(tmp_path / "board")
    assert board.wait_until_quiet(5) < 0.01  # nobody signing in: no wait at all

    other = OtherWorker(tmp_path / "board", seconds=0.5)
    try:
        waited = board.wait_until_quiet(5)
        assert 0.35 <= waited < 2, waited  # the rest of the other process's sign-in, its grace and a poll or two
    finally:
        other.stop()

    other = OtherWorker(tmp_path / "board", seconds=60)  # a sign-in that outlasts the wait
    try:
        started = time.monotonic()
        waited = board.wait_until_quiet(0.4)
        assert 0.4 <= waited < 1 and time.monotonic() - started < 1
    finally:
        other.stop()


def test_many_waiting_threads_all_go_once_it_is_quiet(tmp_path: Path) -> None:
    board = SignInBoard(tmp_path / "board")
    other = OtherWorker(tmp_path / "board", seconds=0.4)
    waits: list[float] = []
    try:
        threads = [threading.Thread(target=lambda: waits.append(board.wait_until_quiet(5))) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        other.stop()
    assert len(waits) == 20 and all(0.2 <= waited < 2 for waited in waits), waits
    deadline = time.monotonic() + 1
    while board._polling and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not board._polling and board._waiting == 0  # the one poller of this process stops with its last waiter


def test_the_default_board_is_in_shared_memory_per_user() -> None:
    path = default_board_path()
    assert path.name.startswith("spine-auth-sign-ins-") and path.parent in (Path("/dev/shm"), Path("/tmp"))


# ---- through the app ----


@pytest.fixture(scope="module")
def board_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("board") / "sign-ins"


@pytest.fixture(scope="module")
def polite_app(
    fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory, board_path: Path
) -> Iterator[tuple[RunningApp, dict[str, bool]]]:
    running = smart_app(
        "public",
        fhir_server,
        auth_server,
        tmp_path_factory.mktemp("polite"),
        "spine-auth-polite",
        SIGN_IN_FIRST_SECONDS=LONGEST,
        SIGN_IN_BOARD_PATH=str(board_path),
    )
    seen_running: dict[str, bool] = {}

    @running.app.after_request
    def look_at_the_board(response: Response) -> Response:  # inside the request, before its slot is cleared
        seen_running[str(request.endpoint)] = running.app.extensions[EXTENSION].busy()
        return response

    try:
        yield running, seen_running
    finally:
        running.stop()


@pytest.mark.sandbox
def test_each_sign_in_request_is_on_the_board_while_it_runs(
    polite_app: tuple[RunningApp, dict[str, bool]], auth_server: Any, fhir_server: Any
) -> None:
    app, seen_running = polite_app
    mine: dict[str, SeedPatient] = seeded_on(fhir_server, (FIRST,))
    page = ehr_launch(Browser(), app, auth_server, mine[FIRST].id)
    assert page.status_code == 200
    assert seen_running["launch.launch"] and seen_running["launch.callback"] and seen_running["patient.summary"]
    time.sleep(GRACE_SECONDS + 0.05)
    assert not app.app.extensions[EXTENSION].busy()  # every slot was cleared when its request ended


@pytest.mark.sandbox
def test_a_summary_waits_for_a_sign_in_on_another_worker_then_reads_the_whole_record(
    polite_app: tuple[RunningApp, dict[str, bool]], auth_server: Any, fhir_server: Any, board_path: Path
) -> None:
    app, _ = polite_app
    mine: dict[str, SeedPatient] = seeded_on(fhir_server, (FIRST, SECOND))
    for patient in (FIRST, SECOND):  # twice, the second time for a second patient
        browser = Browser()
        page = ehr_launch(browser, app, auth_server, mine[patient].id)
        assert page.status_code == 200
        url = urljoin(page.url, summary_src(page.text))
        time.sleep(GRACE_SECONDS + 0.05)  # this launch's own sign-in is over

        quiet = browser.get(url)
        assert quiet.status_code == 200 and "data-summary-loaded" in quiet.text
        assert server_timing(quiet, "sign-ins-first") < 100
        as_data = browser.get(page.url, headers={"Accept": "application/json"})  # a page request reading the record
        assert as_data.status_code == 200 and as_data.json()["clinical"]
        assert server_timing(as_data, "sign-ins-first") < 100  # it does not wait for its own sign-in slot

        other = OtherWorker(board_path, seconds=0.6)
        try:
            waited = browser.get(url)
        finally:
            other.stop()
        assert waited.status_code == 200 and "data-summary-loaded" in waited.text
        assert 450 <= server_timing(waited, "sign-ins-first") < 1000 * LONGEST
        assert waited.text == quiet.text  # the same whole summary, only later
        assert server_timing(waited, "record-read-slot") < 1000


@pytest.mark.sandbox
def test_a_summary_is_never_held_longer_than_the_setting(
    polite_app: tuple[RunningApp, dict[str, bool]], auth_server: Any, fhir_server: Any, board_path: Path
) -> None:
    app, _ = polite_app
    mine: dict[str, SeedPatient] = seeded_on(fhir_server, (SECOND,))
    browser = Browser()
    page = ehr_launch(browser, app, auth_server, mine[SECOND].id)
    other = OtherWorker(board_path, seconds=60)  # sign-ins that never end must not starve record reads
    try:
        started = time.monotonic()
        summary = browser.get(urljoin(page.url, summary_src(page.text)))
        elapsed = time.monotonic() - started
    finally:
        other.stop()
    assert summary.status_code == 200 and "data-summary-loaded" in summary.text
    assert 1000 * LONGEST <= server_timing(summary, "sign-ins-first") < 1000 * LONGEST + 200
    assert elapsed < LONGEST + 10
