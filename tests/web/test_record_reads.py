"""Whole-record reads are bounded per worker (smart_app/web/record_reads.py, issue 13): with one slot, a summary
read that cannot start within the wait limit is answered 503 with words a clinician can act on, the page around it
is not held, and the same read succeeds once the slot is free; the gate itself, unit-tested for its bound.
Through the real app in front of the sandbox EHR, whose injected latency keeps the first read busy."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.web.errors import AppError
from smart_app.web.record_reads import RecordReadGate
from tests.web.conftest import Browser, RunningApp, seeded_on, smart_app
from tests.web.flows import ehr_launch, summary_src

FIRST = "lumbar-mbb-first-left-ready"
SECOND = "pars-chronic-defect-edema-ready"


@pytest.fixture(scope="module")
def gated_app(fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = smart_app(
        "public",
        fhir_server,
        auth_server,
        tmp_path_factory.mktemp("gated"),
        "spine-auth-gated",
        RECORD_READS_PER_WORKER=1,
        RECORD_READ_WAIT_SECONDS=0.3,
    )
    try:
        yield running
    finally:
        running.stop()


def test_the_gate_holds_at_most_its_slots_and_refuses_after_the_wait() -> None:
    gate = RecordReadGate(2, 0.05)
    with gate.slot(), gate.slot():
        started = time.monotonic()
        with pytest.raises(AppError) as refused, gate.slot():
            pass
        assert time.monotonic() - started >= 0.05
        assert refused.value.status == 503 and refused.value.code == "busy"
        assert "reload the page in a few seconds" in refused.value.message
    with gate.slot():  # both slots came back
        pass
    with pytest.raises(ValueError):
        RecordReadGate(0, 1)


@pytest.mark.sandbox
def test_a_summary_that_cannot_start_is_told_busy_and_succeeds_once_the_slot_is_free(
    gated_app: RunningApp, auth_server: Any, fhir_server: Any
) -> None:
    mine: dict[str, SeedPatient] = seeded_on(fhir_server, (FIRST, SECOND))
    first, second = Browser(), Browser()
    first_page = ehr_launch(first, gated_app, auth_server, mine[FIRST].id)
    second_page = ehr_launch(second, gated_app, auth_server, mine[SECOND].id)
    assert first_page.status_code == 200 and second_page.status_code == 200
    first_url = urljoin(first_page.url, summary_src(first_page.text))
    second_url = urljoin(second_page.url, summary_src(second_page.text))
    answers: dict[str, requests.Response] = {}
    fhir_server.configure(delay_ms=1500)  # every FHIR request of the first read takes 1.5 s: it holds the slot
    try:
        reader = threading.Thread(target=lambda: answers.update(first=first.get(first_url)))
        reader.start()
        time.sleep(0.5)
        busy = second.get(second_url, headers={"Accept": "text/html"})
        page_meanwhile = second.get(second_page.url)  # the page itself is not a record read: not held
        reader.join(timeout=60)
    finally:
        fhir_server.configure(delay_ms=None)
    assert answers["first"].status_code == 200 and "data-summary-loaded" in answers["first"].text
    assert busy.status_code == 503
    assert "The app is busy" in busy.text and "reload the page in a few seconds" in busy.text
    assert page_meanwhile.status_code == 200 and "data-summary-src" in page_meanwhile.text
    again = second.get(second_url, headers={"Accept": "text/html"})
    assert again.status_code == 200 and "data-summary-loaded" in again.text
