"""The real thing in Debian's Chromium: open the sandbox EHR, click Launch, land on the patient page, both in a
new window and inside the EHR's iframe (cookies Secure + SameSite=None + Partitioned, CSP frame-ancestors)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser

from tests.web.conftest import RunningApp


@pytest.mark.browser
@pytest.mark.sandbox
def test_click_launch_in_the_sandbox_ehr_lands_on_the_patient_page(
    chromium: PlaywrightBrowser, app_server: RunningApp, auth_server: Any, patients: list[str]
) -> None:
    context = chromium.new_context()
    try:
        ehr = context.new_page()
        ehr.goto(auth_server.ehr_url)
        launch_link = f'a[href$="patient={patients[0]}&client_id={app_server.client_id}"]'
        with context.expect_page() as opened:
            ehr.click(launch_link)
        app_page = opened.value
        app_page.wait_for_url(f"{app_server.url}/s/**", timeout=20_000)
        app_page.wait_for_selector("text=Open the checklist")
        assert app_page.locator(".patient-banner").count() == 1
        assert app_page.locator('tr[data-type="Condition"]').count() == 1
        cookies = context.cookies(app_server.url)
        assert [c["name"] for c in cookies] == ["spine_auth_session"]
        assert cookies[0]["httpOnly"] and cookies[0]["secure"] and cookies[0]["sameSite"] == "None"

        # Inside the EHR's iframe: the app is framed by its registered EHR origin and completes the launch there.
        ehr.click(f'a[href$="patient={patients[1]}&client_id={app_server.client_id}&frame=1"]')
        frame = ehr.frame_locator("#app-frame")
        frame.locator("text=Open the checklist").wait_for(timeout=20_000)
        assert frame.locator(".patient-banner").count() == 1
    finally:
        context.close()
