"""The checklist in Debian's Chromium: launch from the sandbox EHR page, open the checklist, submit a request, see
the verdict, open an evidence link, save the draft order; and the page inside the EHR's iframe at 1024 px."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Page

from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import NEEDS_DOCUMENTATION, ORDER_PATIENT, RunningApp

# Set to a folder to keep screenshots of the pages (for a look at the layout).
SCREENSHOTS = os.environ.get("SPINE_AUTH_SCREENSHOTS")


def snapshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def fill_request(page: Any, patient: SeedPatient, as_of: str) -> None:
    request = patient.request
    page.select_option("#field-procedure", request["procedure"])
    if request.get("intent"):
        page.select_option("#field-intent", request["intent"])
    for level in request["levels"].split(","):
        page.check(f'input[name="level"][value="{level}"]')
    page.select_option("#field-side", request["side"])
    page.fill("#field-as_of", as_of)


@pytest.mark.browser
@pytest.mark.sandbox
def test_launch_check_open_evidence_and_save_the_draft_order_in_chromium(
    chromium: PlaywrightBrowser, app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient]
) -> None:
    patient = seeded[ORDER_PATIENT]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        ehr = context.new_page()
        ehr.goto(auth_server.ehr_url)
        with context.expect_page() as opened:
            ehr.click(f'a[href$="patient={patient.id}&client_id={app_server.client_id}"]')
        app = opened.value
        app.wait_for_url(f"{app_server.url}/s/**", timeout=20_000)
        app.click("text=Open the checklist")
        app.wait_for_load_state()
        app.select_option("#field-procedure", "medial-branch-block")
        assert app.locator('[data-field="technique"]').is_hidden()  # the script offers technique for RFA only
        fill_request(app, patient, "2026-11-20")
        assert app.locator('[data-field="technique"]').is_visible()
        app.click('button[name="run"]')
        verdict = app.locator("[data-verdict]")
        verdict.wait_for(timeout=20_000)
        assert verdict.get_attribute("data-verdict") == patient.expected_verdict == "ready"
        assert "Verdict: Ready" in verdict.inner_text()
        assert "run=1" in app.url and "procedure=radiofrequency-ablation" in app.url  # a shareable URL
        snapshot(app, "checklist-ready")

        evidence = app.locator("a[data-evidence]").first
        reference = evidence.get_attribute("data-evidence")
        evidence.click()
        app.wait_for_selector(f'h1[data-reference="{reference}"]')
        assert app.locator(".key-fields dt").count() >= 2
        snapshot(app, "evidence")
        app.go_back()
        app.wait_for_selector("[data-verdict]")

        app.click("[data-save-order] button")
        app.wait_for_selector("text=Draft order saved in the EHR", timeout=20_000)
        rows = app.locator("tr[data-reference]")
        assert rows.count() >= 3
        actions = {rows.nth(i).get_attribute("data-action") for i in range(rows.count())}
        assert "created" in actions
        snapshot(app, "order-saved")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_the_checklist_inside_the_ehr_iframe_fits_1024_px_and_attests(
    chromium: PlaywrightBrowser, app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient]
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    context = chromium.new_context(viewport={"width": 1024, "height": 768})
    try:
        ehr = context.new_page()
        ehr.goto(auth_server.ehr_url)
        ehr.click(f'a[href$="patient={patient.id}&client_id={app_server.client_id}&frame=1"]')
        frame = ehr.frame_locator("#app-frame")
        frame.locator("text=Open the checklist").click(timeout=20_000)
        frame.locator("#field-procedure").wait_for()
        inner = ehr.frame(url=f"{app_server.url}/s/**")
        assert inner is not None
        fill_request(inner, patient, patient.request["as_of"])
        inner.click('button[name="run"]')
        frame.locator("[data-verdict]").wait_for(timeout=20_000)
        inner = ehr.frame(url=f"{app_server.url}/s/**")
        assert inner is not None
        assert inner.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert frame.locator("[data-verdict]").get_attribute("data-verdict") == "needs-documentation"
        snapshot(ehr, "checklist-iframe-1024")

        attest = frame.locator("form[data-attest]").first
        criterion = attest.get_attribute("data-attest")
        attest.locator('input[value="met"]').check()
        attest.locator('input[name="note"]').fill("Oswestry 40 % on the scanned intake form of 2026-10-26")
        attest.locator('button[type="submit"]').click()
        attested = frame.locator(f'li[data-criterion="{criterion}"][data-origin="attested"]')
        attested.wait_for(timeout=20_000)
        assert "Oswestry 40 %" in attested.inner_text()
    finally:
        context.close()
