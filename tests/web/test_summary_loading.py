"""The patient page answers at once and its clinical summary loads into it (issue 13, P6), through the real app in front
of the sandbox EHR: the page names exactly one summary source and reads nothing from the EHR (counted at the sandbox
FHIR server; the banner comes with the record); the fragment is the whole summary (everything the JSON view holds),
the same when read twice and for a second patient after the first; an error reading the record shows the app's own
words in the summary area (Chromium); without JavaScript the area links to the summary as a page; both GETs are
audited.

Screenshots (page while loading, page loaded, error in the area) go to $SPINE_AUTH_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import html as html_text
import re
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Route

from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.store.audit import events
from tests.web.conftest import Browser, RunningApp, seeded_on
from tests.web.flows import as_json, ehr_launch, load_summary, summary_src
from tests.web.test_browser_checklist import snapshot
from tests.web.test_browser_walkthrough import SUMMARY_JSON, assert_chart_drawn, launch_from_ehr

FIRST = "lumbar-mbb-confirmatory-bilateral-ready"
SECOND = "lumbar-rfa-repeat-sustained-relief-ready"
MINE = (FIRST, SECOND)


@pytest.fixture
def mine(fhir_server: Any) -> dict[str, SeedPatient]:
    return seeded_on(fhir_server, MINE)


def fhir_requests_for(fhir_server: Any, get: Any) -> tuple[requests.Response, int]:
    """`get()`'s response and how many FHIR requests the sandbox FHIR server served meanwhile."""
    fhir_server.reset_stats()
    response = get()
    return response, fhir_server.request_count()


def assert_whole_summary(fragment: str, view: dict[str, Any]) -> None:
    """Everything the summary's data holds is in the fragment (the JSON view is built by the same code)."""
    clinical = view["clinical"]
    assert fragment.count("data-summary-loaded") == 1
    assert f'data-suggestion="{clinical["suggestion"]["step"] if clinical["suggestion"] else ""}"' in fragment
    assert f'href="{html_text.escape(view["checklist"])}" data-open-checklist' in fragment
    for diagnosis in clinical["diagnoses"]:
        assert f'data-diagnosis="{diagnosis["code"]}"' in fragment
    for procedure in clinical["procedures"]:
        assert f'data-procedure="{procedure["reference"]}"' in fragment
        assert html_text.escape(procedure["relief"]) in fragment
    for finding in clinical["imaging"]:
        assert f'data-finding="{finding["reference"]}"' in fragment
    for care in clinical["conservativeCare"]:
        assert f'data-care="{care["references"][0]}"' in fragment
    for resource_type, count in view["counts"].items():
        assert re.search(rf'<tr data-type="{resource_type}"><td>{resource_type}</td><td>{count}</td>', fragment)
    assert f"{view['requests']} request(s)" in fragment
    for scope in view["scopesGranted"]:
        assert f"<li><code>{scope}</code></li>" in fragment
    chart = re.search(r'<script type="application/json" id="pain-chart-data">(.*?)</script>', fragment, re.S)
    assert chart and len(clinical["painChart"]["series"]) > 0
    assert ("data-write-mode" in fragment) == (view["writeMode"] == "export-only")
    assert view["clinician"] and html_text.escape(view["clinician"]) in fragment


def summary_root(page_html: str) -> str:
    start = page_html.index('<div class="clinical-summary" data-summary-loaded>')
    return page_html[start : page_html.rindex("</div>", start, page_html.index("</main>")) + len("</div>")]


@pytest.mark.sandbox
def test_the_page_names_one_summary_source_and_reads_nothing_from_the_ehr(
    browser: Browser, app_server: RunningApp, auth_server: Any, fhir_server: Any, mine: dict[str, SeedPatient]
) -> None:
    patient = mine[FIRST]
    first = ehr_launch(browser, app_server, auth_server, patient.id)
    assert first.status_code == 200, first.text
    page, served = fhir_requests_for(fhir_server, lambda: browser.get(first.url))
    assert page.status_code == 200
    assert served == 0  # nothing from the EHR: no Patient, no record, no Practitioner
    src = summary_src(page.text)
    assert src == f"/s/{app_server.launch_id_of(first.url)}/summary"  # a same-origin path
    assert 'class="patient-banner"' in page.text and "Reading the record…" in page.text
    assert "data-banner-pending" in page.text and "Reading the patient's name" in page.text
    assert "data-summary-loaded" not in page.text and 'role="status"' in page.text
    assert "conditions, procedures" in page.text  # which types it reads
    # The fragment reads the record (several requests); the page stays one request when loaded again.
    fragment, served_by_fragment = fhir_requests_for(fhir_server, lambda: load_summary(browser, page))
    assert served_by_fragment >= 2 and 'data-procedure="Procedure/' in fragment.text
    carried = fragment.text[fragment.text.index("data-summary-banner") :]
    carried = carried[: carried.index("</section>")]
    assert 'class="patient-banner"' in carried and html_text.escape(patient.display_name) in carried
    _, served_again = fhir_requests_for(fhir_server, lambda: browser.get(first.url))
    assert served_again == 0

    # An EHR that asks for no banner: the page reads nothing at all from the EHR.
    auth_server.set_switches(need_patient_banner=False)
    second = ehr_launch(browser, app_server, auth_server, patient.id)
    page, served = fhir_requests_for(fhir_server, lambda: browser.get(second.url))
    assert served == 0 and 'class="patient-banner"' not in page.text
    assert summary_src(page.text).endswith("/summary")
    assert "data-summary-banner" not in load_summary(browser, page).text


@pytest.mark.sandbox
def test_the_fragment_is_the_whole_summary_twice_and_for_a_second_patient(
    browser: Browser, app_server: RunningApp, auth_server: Any, mine: dict[str, SeedPatient]
) -> None:
    fragments: dict[str, str] = {}
    for name in (FIRST, SECOND):
        patient = mine[name]
        page = ehr_launch(browser, app_server, auth_server, patient.id)
        loaded = load_summary(browser, page)
        assert loaded.headers["Cache-Control"] == "no-store" and loaded.headers["Content-Type"].startswith("text/html")
        fragment = loaded.text
        view = as_json(browser, page.url).json()
        assert view["patient"] == patient.id
        assert_whole_summary(fragment, view)
        assert load_summary(browser, page).text == fragment  # read twice: the same summary
        # The page without JavaScript shows exactly this summary.
        whole = browser.get(urljoin(page.url, "summary/page"))
        assert whole.status_code == 200 and "data-summary-src" not in whole.text
        # (the fragment also carries the banner for the page's banner slot; the whole page has it at its top)
        carried_banner = re.compile(r"<div hidden data-summary-banner>.*?</div>\n?", re.S)
        assert len(carried_banner.findall(fragment)) == 1 and 'class="patient-banner"' in whole.text
        assert summary_root(whole.text) == carried_banner.sub("", fragment).strip()
        fragments[page.url] = fragment
    (first_url, first_fragment), (_, second_fragment) = fragments.items()
    assert first_fragment != second_fragment
    # The first launch's tab still shows its own patient after the second launch in the same browser.
    assert load_summary(browser, browser.get(first_url)).text == first_fragment
    assert 'data-suggestion="confirmatory"' in first_fragment and 'data-suggestion="rfa-repeat"' in second_fragment


@pytest.mark.sandbox
def test_both_gets_are_audited_as_reads_and_errors_keep_their_words(
    browser: Browser, app_server: RunningApp, auth_server: Any, mine: dict[str, SeedPatient]
) -> None:
    page = ehr_launch(browser, app_server, auth_server, mine[FIRST].id)
    launch_id = app_server.launch_id_of(page.url)
    load_summary(browser, page)
    assert browser.get(urljoin(page.url, "summary/page")).status_code == 200
    with app_server.services.database.session() as db:
        reads = [(e.event, e.detail, e.subject) for e in events(db, launch_id=launch_id) if e.event == "data.read"]
    subject = f"Patient/{mine[FIRST].id}"
    assert reads == [
        ("data.read", "GET patient.summary", subject),
        ("data.read", "GET patient.summary_fragment", subject),
        ("data.read", "GET patient.summary_page", subject),
    ]
    # Another browser (no session for this launch) gets the same refusal from the fragment as from the page.
    with Browser() as stranger:
        refused = stranger.get(f"{app_server.url}/s/{launch_id}/summary")
    assert refused.status_code == 403 and "This launch belongs to another browser session" in refused.text
    # A session the EHR ended: the fragment answers 401 with the relaunch words the page gave before.
    auth_server.set_switches(reject_refresh=True)
    app_server.clock_offset[0] = 3600
    try:
        ended = browser.get(f"{app_server.url}/s/{launch_id}/summary")
    finally:
        app_server.clock_offset[0] = 0
    assert ended.status_code == 401
    assert "Your session with the EHR has ended. Please launch the app again from your EHR." in ended.text


@pytest.mark.browser
@pytest.mark.sandbox
def test_chromium_shows_progress_then_the_summary_or_the_error_in_the_area(
    chromium: PlaywrightBrowser,
    app_server: RunningApp,
    auth_server: Any,
    mine: dict[str, SeedPatient],
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    held: list[Route] = []

    def hold(route: Route) -> None:  # keep the summary request waiting, to look at the page meanwhile
        held.append(route)

    try:
        ehr = context.new_page()
        context.route(re.compile(r".*/s/[^/]+/summary$"), hold)
        page = launch_from_ehr(context, ehr, auth_server.ehr_url, app_server, mine[SECOND])
        page.wait_for_selector("[data-summary-progress]")
        assert page.locator("[data-summary-src]").count() == 1
        assert page.locator("[data-summary-src]").get_attribute("aria-busy") == "true"
        assert "Reading the record…" in page.locator("[data-summary-progress]").inner_text()
        assert page.locator(".summary-loading .spinner").is_visible()
        assert page.locator(".patient-banner").is_visible()
        snapshot(page, "summary-loading-1280")
        assert len(held) == 1
        held[0].continue_()
        page.wait_for_selector("[data-summary-loaded]", timeout=20_000)
        assert page.locator("[data-summary-progress]").count() == 0
        assert page.locator("[data-summary-src]").get_attribute("aria-busy") == "false"
        summary = page.evaluate(SUMMARY_JSON)
        assert_chart_drawn(page, summary)
        assert page.locator("[data-clinician]").count() == 1
        assert "Casey Sandoval" in page.locator("[data-clinician]").inner_text()
        snapshot(page, "summary-loaded-1280")
        page.close()

        # The record read fails (the EHR ended the session): the area shows the app's words, not a blank.
        context.unroute(re.compile(r".*/s/[^/]+/summary$"))
        held.clear()
        context.route(re.compile(r".*/s/[^/]+/summary$"), hold)
        page = launch_from_ehr(context, ehr, auth_server.ehr_url, app_server, mine[FIRST])
        page.wait_for_selector("[data-summary-progress]")
        auth_server.set_switches(reject_refresh=True)
        app_server.clock_offset[0] = 3600
        try:
            held[0].continue_()
            page.wait_for_selector("[data-summary-error]", timeout=20_000)
        finally:
            app_server.clock_offset[0] = 0
        area = page.locator("[data-summary-src]")
        text = area.inner_text()
        assert "Launch again from your EHR" in text
        assert "Your session with the EHR has ended. Please launch the app again from your EHR." in text
        assert "relaunch-required (HTTP 401)" in text
        assert page.locator("[data-summary-progress]").count() == 0 and area.get_attribute("aria-busy") == "false"
        assert page.locator(".patient-banner").is_visible()  # the page around the area stays
        snapshot(page, "summary-error-1280")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_without_javascript_the_area_links_to_the_summary_as_a_page(
    chromium: PlaywrightBrowser,
    app_server: RunningApp,
    auth_server: Any,
    mine: dict[str, SeedPatient],
) -> None:
    with_js = chromium.new_context(viewport={"width": 1280, "height": 900})
    no_js = chromium.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    try:
        # The launch itself runs scripts (launch.html); the same browser session then opens the page without them.
        launched = launch_from_ehr(with_js, with_js.new_page(), auth_server.ehr_url, app_server, mine[SECOND])
        no_js.add_cookies(with_js.cookies())
        page = no_js.new_page()
        page.goto(launched.url)
        assert page.locator("[data-summary-loaded]").count() == 0
        link = page.locator("[data-summary-src] a[data-summary-page]")
        assert link.is_visible() and link.inner_text() == "Show the clinical summary"
        link.click()
        page.wait_for_selector("[data-summary-loaded]", timeout=20_000)
        assert page.url.endswith("/summary/page")
        assert page.locator("table.timeline tbody tr").count() == 3
        assert page.locator("[data-open-checklist]").is_visible()
        assert page.locator(".patient-banner").is_visible()
        snapshot(page, "summary-page-no-js-1280")
    finally:
        no_js.close()
        with_js.close()
