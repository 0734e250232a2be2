"""Issue 9's walk-through in Debian's Chromium: launch → clinical summary (the pain chart has drawn its points) →
checklist pre-filled from the suggested next step → check (the page lands on the result) → save the draft order
(progress shown, buttons disabled) → a second patient in a new launch in the same browser; the same pages inside
the EHR's iframe at 1024 px; and the home page's standalone launch to an authorization server on another origin.

Screenshots go to $SPINE_AUTH_SCREENSHOTS when it is set (summary and checklist at 1280 px and in the 1024 px frame).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Frame, Page

from smart_app.sandbox.constants import SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import RunningApp, seeded_on
from tests.web.test_browser_checklist import snapshot

FIRST = "lumbar-mbb-confirmatory-bilateral-ready"  # one right+left block: a confirmatory block is next
SECOND = "lumbar-rfa-repeat-sustained-relief-ready"  # an RFA with lasting relief: a repeat RFA is next
WALK_PATIENTS = (FIRST, SECOND)

# The drawn chart, read from Chart.js itself: points per dataset with their pixel positions, and the plot area.
CHART_STATE = """() => {
  const chart = Chart.getChart(document.getElementById('pain-chart'));
  if (!chart) { return null; }
  const area = chart.chartArea;
  return {
    area: {left: area.left, right: area.right, top: area.top, bottom: area.bottom},
    datasets: chart.data.datasets.map((dataset, index) => ({
      label: dataset.label,
      points: chart.getDatasetMeta(index).data.map(point => ({x: point.x, y: point.y})),
    })),
  };
}"""
SUMMARY_JSON = "() => fetch(location.pathname, {headers: {Accept: 'application/json'}}).then(r => r.json())"


@pytest.fixture
def walk_patients(fhir_server: Any) -> dict[str, SeedPatient]:
    return seeded_on(fhir_server, WALK_PATIENTS)


def assert_chart_drawn(page: Page | Frame, summary: dict[str, Any]) -> None:
    state = page.evaluate(CHART_STATE)
    assert state is not None, "Chart.js did not draw the pain chart"
    area = state["area"]
    chart_data = summary["clinical"]["painChart"]
    scores = [point for series in chart_data["series"] for point in series["points"]]
    drawn = [point for dataset in state["datasets"][:-1] for point in dataset["points"]]
    assert len(drawn) == len(scores) > 0
    for point in drawn:
        assert (
            area["left"] - 1 <= point["x"] <= area["right"] + 1 and area["top"] - 1 <= point["y"] <= area["bottom"] + 1
        )
    marks = state["datasets"][-1]
    assert marks["label"] == "Procedures" and len(marks["points"]) == len(chart_data["procedures"]) > 0


def assert_summary(page: Page | Frame, patient: SeedPatient) -> dict[str, Any]:
    """The clinical summary of `patient`: sections, the chart drawn, the details tucked away; returns its JSON."""
    page.wait_for_selector("h1:has-text('Clinical summary')", timeout=20_000)
    page.wait_for_selector("[data-summary-loaded]", timeout=20_000)  # the page loads its summary after it opens
    assert page.locator("[data-summary-progress]").count() == 0 and page.locator("[data-summary-error]").count() == 0
    summary: dict[str, Any] = page.evaluate(SUMMARY_JSON)
    assert summary["patient"] == patient.id
    banner = page.locator(".patient-banner .name").inner_text()
    assert banner and (banner in patient.display_name or patient.display_name in banner)
    for heading in (
        "Suggested next step",
        "Spine diagnoses",
        "Pain over time",
        "Prior blocks and ablations",
        "Imaging findings",
        "Conservative care",
    ):
        assert page.locator(f"h2:has-text('{heading}')").count() == 1, heading
    rows = page.locator("table.timeline tbody tr")
    assert rows.count() == len(summary["clinical"]["procedures"]) > 0
    assert page.locator("table.timeline td[data-side]").first.inner_text() in ("left", "right", "bilateral")
    # What was read and the scopes: behind the details disclosure, closed.
    assert page.locator("details[data-details]").get_attribute("open") is None
    assert not page.locator("ul.scopes").first.is_visible()
    assert_chart_drawn(page, summary)
    clinician = page.locator("[data-clinician]").inner_text()
    assert "Casey Sandoval" in clinician and "NPI" in clinician and "http" not in clinician
    assert SANDBOX_PRACTITIONER_ID not in clinician
    return summary


def assert_prefilled(page: Page | Frame, suggestion: dict[str, Any]) -> None:
    page.wait_for_selector("[data-prefilled]")
    assert page.locator("#field-procedure").input_value() == suggestion["procedure"]
    assert page.locator("#field-side").input_value() == suggestion["side"]
    assert page.locator("#field-intent").input_value() == (suggestion["intent"] or "")
    checked = page.locator('input[name="level"]:checked')
    assert sorted(checked.nth(i).get_attribute("value") or "" for i in range(checked.count())) == sorted(
        suggestion["levels"]
    )


def check_and_land_on_result(page: Page) -> str:
    page.click('button[name="run"]')
    page.wait_for_selector("[data-verdict]", timeout=20_000)
    assert urlsplit(page.url).fragment == "result"
    top = page.evaluate("document.getElementById('result').getBoundingClientRect().top")
    assert -2 <= top < page.evaluate("window.innerHeight / 2")  # the result is at the top of the window
    verdict = page.locator("[data-verdict]")
    # The banner names what failed or is unknown before it says what the verdict means.
    text = verdict.inner_text()
    for marker in ("[data-verdict-failed]", "[data-verdict-unknown]"):
        if verdict.locator(marker).count():
            assert text.index(verdict.locator(marker).inner_text()[:20]) < text.index(
                verdict.locator(".verdict-meaning").inner_text()[:20]
            )
    return verdict.get_attribute("data-verdict") or ""


def save_with_progress(page: Page, fhir_server: Any) -> None:
    """Save the draft order while the EHR answers slowly: the progress indicator shows and the button is disabled."""
    fhir_server.configure(delay_ms=700)
    try:
        # Click without waiting for the navigation, then look at the page while the request runs.
        busy = page.evaluate(
            """() => {
              const button = document.querySelector('[data-save-order] button');
              button.click();
              button.click();  // a double click: the second is refused by the page
              return {
                disabled: button.disabled,
                indicator: !document.getElementById('busy-indicator').hidden,
                submitting: button.form.getAttribute('data-submitting'),
              };
            }"""
        )
        assert busy == {"disabled": True, "indicator": True, "submitting": "1"}
        page.wait_for_selector("h1:has-text('Draft order'), [data-confirm-not-eligible]", timeout=30_000)
        if page.locator("[data-confirm-not-eligible]").count():
            page.click("[data-confirm-save] button")
        page.wait_for_selector("text=Draft order saved in the EHR", timeout=30_000)
    finally:
        fhir_server.configure(delay_ms=None)
    assert page.locator(".patient-banner").count() == 1
    assert "Casey Sandoval" in page.locator("[data-clinician]").inner_text()
    actions = page.locator("tr[data-reference]")
    assert actions.count() >= 3


def launch_from_ehr(context: Any, ehr: Page, ehr_url: str, app_server: RunningApp, patient: SeedPatient) -> Page:
    """Click "Launch" for `patient` on the sandbox EHR page (a new launch in a new window of the same browser)."""
    ehr.goto(ehr_url)
    with context.expect_page() as opened:
        ehr.click(f'a[href$="patient={patient.id}&client_id={app_server.client_id}"]')
    page: Page = opened.value
    page.wait_for_url(f"{app_server.url}/s/**", timeout=20_000)
    return page


@pytest.mark.browser
@pytest.mark.sandbox
def test_launch_summary_prefilled_checklist_save_then_a_second_patient_in_chromium(
    chromium: PlaywrightBrowser,
    app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    walk_patients: dict[str, SeedPatient],
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        ehr = context.new_page()
        banners = []
        for position, name in enumerate(WALK_PATIENTS):
            patient = walk_patients[name]
            page = launch_from_ehr(context, ehr, auth_server.ehr_url, app_server, patient)
            summary = assert_summary(page, patient)
            suggestion = summary["clinical"]["suggestion"]
            assert suggestion is not None
            assert page.locator("[data-suggestion]").get_attribute("data-suggestion") == suggestion["step"]
            banners.append(page.locator(".patient-banner .name").inner_text())
            snapshot(page, f"summary-1280-{position + 1}")

            page.click("[data-open-checklist]")
            assert_prefilled(page, suggestion)
            page.fill("#field-as_of", patient.request["as_of"])
            verdict = check_and_land_on_result(page)
            assert verdict in ("ready", "needs-documentation", "not-eligible")
            snapshot(page, f"checklist-1280-{position + 1}")
            save_with_progress(page, fhir_server)
            snapshot(page, f"order-saved-1280-{position + 1}")
            page.close()
        assert banners[0] != banners[1]  # the second launch shows the second patient, not the first
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_summary_and_checklist_inside_the_ehr_iframe_at_1024_px(
    chromium: PlaywrightBrowser,
    app_server: RunningApp,
    auth_server: Any,
    walk_patients: dict[str, SeedPatient],
) -> None:
    patient = walk_patients[SECOND]
    context = chromium.new_context(viewport={"width": 1024, "height": 768})
    try:
        ehr = context.new_page()
        ehr.goto(auth_server.ehr_url)
        ehr.click(f'a[href$="patient={patient.id}&client_id={app_server.client_id}&frame=1"]')
        ehr.frame_locator("#app-frame").locator("h1:has-text('Clinical summary')").wait_for(timeout=20_000)
        inner = ehr.frame(url=f"{app_server.url}/s/**")
        assert inner is not None
        summary = assert_summary(inner, patient)
        assert inner.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        snapshot(ehr, "summary-iframe-1024")

        inner.click("[data-open-checklist]")
        ehr.frame_locator("#app-frame").locator("[data-prefilled]").wait_for(timeout=20_000)
        inner = ehr.frame(url=f"{app_server.url}/s/**")
        assert inner is not None
        assert_prefilled(inner, summary["clinical"]["suggestion"])
        inner.fill("#field-as_of", patient.request["as_of"])
        inner.click('button[name="run"]')
        ehr.frame_locator("#app-frame").locator("[data-verdict]").wait_for(timeout=20_000)
        inner = ehr.frame(url=f"{app_server.url}/s/**")
        assert inner is not None
        assert inner.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        snapshot(ehr, "checklist-iframe-1024")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_standalone_launch_from_the_home_page_to_an_authorization_server_on_another_origin(
    chromium: PlaywrightBrowser,
    app_server: RunningApp,
    auth_server: Any,
    walk_patients: dict[str, SeedPatient],
) -> None:
    patient = walk_patients[FIRST]
    assert urlsplit(auth_server.base_url).netloc != urlsplit(app_server.url).netloc  # another origin
    context = chromium.new_context()
    blocked: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda message: blocked.append(message.text) if "Content Security" in message.text else None)
        page.goto(f"{app_server.url}/")
        page.click("[data-standalone-launch]")
        page.wait_for_selector("h1:has-text('Choose a patient')", timeout=20_000)
        assert page.url.startswith(auth_server.base_url)
        page.click(f'button[name="patient"][value="{patient.id}"]')
        page.wait_for_url(f"{app_server.url}/s/**", timeout=20_000)
        assert_summary(page, patient)
        assert blocked == []
    finally:
        context.close()
