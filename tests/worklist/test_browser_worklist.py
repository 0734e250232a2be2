"""Done-when of issue 11 in Debian's Chromium: a clinician saves a draft order, staff launched from the EHR without
a patient see it in the worklist, build its packet on the request page (the PDF downloads as a PDF; a second
build replaces it), make it ready, submit it to the sandbox payer, see it pended and then approved
with an authorization number (the payer's rest-hook notification, no polling of the payer); a second patient is
denied with its reason."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Page

from smart_app.sandbox.payer import PayerHandle
from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import RunningApp
from tests.web.test_browser_checklist import snapshot
from tests.web.test_checklist_support import request_of
from tests.worklist.conftest import BROWSER_APPROVED, BROWSER_DENIED


def clinician_saves(context: BrowserContext, app: RunningApp, auth_server: Any, patient: SeedPatient) -> None:
    ehr = context.new_page()
    ehr.goto(auth_server.ehr_url)
    with context.expect_page() as opened:
        ehr.click(f'a[href$="patient={patient.id}&client_id={app.client_id}"]')
    page = opened.value
    page.wait_for_url(f"{app.url}/s/**", timeout=20_000)
    launch_id = app.launch_id_of(page.url)
    page.goto(f"{app.url}/s/{launch_id}/checklist?" + urlencode({**request_of(patient), "run": "1"}))
    page.click("[data-save-order] button")
    page.wait_for_selector("text=Draft order saved in the EHR", timeout=20_000)
    page.close()
    ehr.close()


def staff_opens_worklist(context: BrowserContext, app: RunningApp, auth_server: Any) -> Page:
    ehr = context.new_page()
    ehr.goto(auth_server.ehr_url)
    with context.expect_page() as opened:
        ehr.click(f'.staff-launch a[href*="client_id={app.client_id}"]')
    page = opened.value
    page.wait_for_url("**/worklist", timeout=20_000)
    return page


def open_request(page: Page, patient: SeedPatient) -> None:
    page.fill('input[name="q"]', patient.display_name.split()[-1])
    page.click('form.filters button[type="submit"]')
    page.wait_for_selector("tr[data-request]")
    assert page.locator("tr[data-request]").count() == 1
    page.click("tr[data-request] a.patient")
    page.wait_for_selector("section.summary")


def build_packet(page: Page, *, place_of_service: str = "24", rebuild: bool = False) -> None:
    """Staff build the packet in the page; it then shows "Packet built … by …" and its PDF downloads as a PDF."""
    page.select_option("#packet-pos", place_of_service)
    page.fill("#packet-facility", "Example Spine ASC")
    page.click("#build-packet")
    page.wait_for_selector("#packet-built")
    notice = page.locator("p.notice[role=status]").inner_text()
    assert notice.startswith("Packet rebuilt" if rebuild else "Packet built."), notice
    assert "Packet built" in page.locator("#packet-built").inner_text()
    assert f"place of service {place_of_service}" in page.locator("#packet-says").inner_text()
    # the form shows the choices the kept packet was built with, for a rebuild
    assert page.locator("#packet-pos").input_value() == place_of_service
    assert page.locator("#packet-facility").input_value() == "Example Spine ASC"
    href = page.locator("#packet-pdf").get_attribute("href")
    assert href
    pdf = page.request.get(page.url.split("/s/")[0] + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"


def make_ready_and_submit(page: Page) -> None:
    page.select_option('#status-form select[name="status"]', "ready")
    page.fill('#status-form input[name="note"]', "documentation checked")
    page.click("#status-form button")
    page.wait_for_selector('section.summary[data-status="ready"]')
    page.click("#submit-to-payer")


@pytest.mark.browser
@pytest.mark.sandbox
def test_saved_order_to_worklist_to_payer_pended_then_approved_and_a_denial_in_chromium(
    chromium: PlaywrightBrowser,
    worklist_app: RunningApp,
    auth_server: Any,
    payer: PayerHandle,
    ready_patients: dict[str, SeedPatient],
) -> None:
    approved_patient, denied_patient = ready_patients[BROWSER_APPROVED], ready_patients[BROWSER_DENIED]
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        clinician_saves(context, worklist_app, auth_server, approved_patient)
        clinician_saves(context, worklist_app, auth_server, denied_patient)
        worklist = staff_opens_worklist(context, worklist_app, auth_server)
        assert worklist.locator("h1").inner_text() == "Prior-authorization worklist"
        worklist.click('a[data-view="attention"]')
        worklist.wait_for_selector("tr[data-request]")
        assert worklist.locator('tr[data-status="draft"]').count() >= 2
        snapshot(worklist, "worklist-attention")

        payer.set_switches(mode="pend", pend_seconds=1.5, then="approve")
        open_request(worklist, approved_patient)
        assert worklist.locator("#packet-missing").count() == 1
        build_packet(worklist)
        snapshot(worklist, "request-packet-built")
        build_packet(worklist, rebuild=True)  # a second build: still one packet, the history keeps both
        assert worklist.locator('table.history tr[data-kind="packet"]').count() == 2
        make_ready_and_submit(worklist)
        worklist.wait_for_selector('section.summary[data-status="pended"]', timeout=20_000)
        assert "Pended" in worklist.locator("#status").inner_text()
        assert "CMS-0057-F" in worklist.locator("#due").inner_text()
        snapshot(worklist, "request-pended")
        for _ in range(60):  # the page is reloaded by the user; the app itself was told by the payer
            worklist.reload()
            if worklist.locator('section.summary[data-status="approved"]').count():
                break
            worklist.wait_for_timeout(250)
        assert worklist.locator("#status").inner_text() == "Approved (A1)"
        assert worklist.locator("#auth-number").inner_text().startswith("SBX-")
        assert worklist.locator("details.claim-response").count() == 2
        assert payer.stats()["submits"] == 1
        snapshot(worklist, "request-approved")

        payer.set_switches(mode="deny", deny_reason="no-diagnosis")
        worklist.click("text=Worklist")
        open_request(worklist, denied_patient)
        build_packet(worklist, place_of_service="11")
        make_ready_and_submit(worklist)
        worklist.wait_for_selector('section.summary[data-status="denied"]', timeout=20_000)
        assert "Diagnosis does not support" in worklist.locator("#denial-reason").inner_text()
        snapshot(worklist, "request-denied")

        worklist.click("text=Worklist")
        worklist.click('a[data-view="all"]')
        worklist.wait_for_selector("tr[data-request]")
        statuses = {
            worklist.locator("tr[data-request]").nth(i).get_attribute("data-status")
            for i in range(worklist.locator("tr[data-request]").count())
        }
        assert {"approved", "denied"} <= statuses
        snapshot(worklist, "worklist-all")
        worklist.click("text=Audit log")
        worklist.wait_for_selector("table.audit")
        assert worklist.locator('tr[data-event="prior-auth.submission"]').count() == 2
        assert worklist.locator('tr[data-event="prior-auth.packet-built"]').count() == 3
        snapshot(worklist, "audit-log")
    finally:
        context.close()
