"""The app against HAPI in Debian's Chromium, as integrators meet the public HAPI sandbox: an open server, the
patient picked in the app, then the checklist and its verdict (and the page kept as a PNG for a look)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser

from tests.web.conftest import READY, chromium, seeded_on, serve_app
from tests.web.test_browser_checklist import fill_request

__all__ = ["chromium"]  # the fixture, imported for this module


@pytest.mark.browser
@pytest.mark.sandbox
def test_open_hapi_pick_a_patient_then_checklist_and_verdict_in_chromium(
    chromium: PlaywrightBrowser, hapi_server: Any, tmp_path: Path
) -> None:
    patient = seeded_on(hapi_server, [READY])[READY]
    entry = {"name": "hapi-open", "title": "HAPI FHIR (open)", "iss": hapi_server.base_url, "open": True}
    app = serve_app(tmp_path, [entry])
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{app.url}/open/hapi-open")
        page.fill("#patient_id", patient.id)
        page.click("text=Open patient")
        page.wait_for_selector(".patient-banner", timeout=60_000)
        page.click("text=Open the checklist")
        page.wait_for_load_state()
        fill_request(page, patient, "2026-11-20")
        page.click('button[name="run"]')
        verdict = page.locator("[data-verdict]")
        verdict.wait_for(timeout=60_000)
        assert verdict.get_attribute("data-verdict") == patient.expected_verdict
        page.screenshot(path=str(tmp_path / "hapi-open-checklist.png"), full_page=True)
        assert (tmp_path / "hapi-open-checklist.png").stat().st_size > 10_000
    finally:
        context.close()
        app.stop()
