"""Issue 14 item 4: a slow EHR holds a web request no longer than the interactive deadline (every try, page and
backoff included), with fewer retries, and the page says in words that the EHR is slow. The sandbox FHIR server
delays every answer (admin config); the deadline is configured short to keep the test fast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.web.conftest import Browser, RunningApp, smart_app
from tests.web.flows import as_json, ehr_launch, load_summary, summary_src

DEADLINE_SECONDS = 2.0
EHR_DELAY_MS = 6000  # longer than the deadline, well under the 30 s read timeout: only the deadline stops it


@pytest.fixture
def app_with_short_deadline(fhir_server: Any, auth_server: Any, tmp_path: Path) -> Iterator[RunningApp]:
    running = smart_app(
        "public",
        fhir_server,
        auth_server,
        tmp_path,
        "spine-auth-short-deadline",
        FHIR_INTERACTIVE_DEADLINE_SECONDS=DEADLINE_SECONDS,
    )
    try:
        yield running
    finally:
        running.stop()
        fhir_server.configure()


def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_slow_ehr_gets_a_page_saying_so_within_the_deadline(
    app_with_short_deadline: RunningApp, auth_server: Any, fhir_server: Any, patients: list[str], browser: Browser
) -> None:
    page = ehr_launch(browser, app_with_short_deadline, auth_server, patients[0])
    assert page.status_code == 200, page.text
    fhir_server.configure(delay_ms=EHR_DELAY_MS)
    # The page itself reads nothing from the EHR (it answers at once); its summary is what waits on the EHR.
    shown, page_seconds = _timed(lambda: browser.get(page.url))
    assert shown.status_code == 200 and page_seconds < DEADLINE_SECONDS
    summary = urljoin(page.url, summary_src(shown.text))
    slow, seconds = _timed(lambda: browser.get(summary))
    assert slow.status_code == 504, slow.text[:500]
    assert 'data-error-code="fhir-slow"' in slow.text
    assert "The EHR is slow to answer" in slow.text
    assert "did not answer within 2 seconds" in slow.text
    assert seconds < DEADLINE_SECONDS + 1.5, f"the page took {seconds:.1f} s"
    api, api_seconds = _timed(lambda: as_json(browser, page.url))
    assert api.status_code == 504
    assert api.json()["issue"][0]["details"]["coding"][0]["code"] == "fhir-slow"
    assert api_seconds < DEADLINE_SECONDS + 1.5
    # The EHR recovers: the same launch works again, and a second patient too.
    fhir_server.configure()
    assert "data-summary-loaded" in load_summary(browser, browser.get(page.url)).text
    second = ehr_launch(browser, app_with_short_deadline, auth_server, patients[1])
    assert second.status_code == 200
    assert "data-summary-loaded" in load_summary(browser, second).text
