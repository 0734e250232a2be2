"""What the clinician sees (issue 9, parts 4-6), through the real app in front of the sandbox: the clinical summary
and its pre-filled checklist link, the clinician by name and NPI (read once per launch) in pages, attestations, the
report PDF and the Provenance, the banner on every page, the confirmation before saving a not-eligible order, a
double submission written once, and verdict wording that matches the result."""

from __future__ import annotations

import html as html_text
import io
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from pypdf import PdfReader

from smart_app.core.documents import SYSTEM_REQUISITION
from smart_app.sandbox.constants import SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import NEEDS_DOCUMENTATION, Browser, RunningApp, seeded_on, sent_to
from tests.web.flows import as_json, load_summary
from tests.web.test_checklist_support import (
    checklist_url,
    expected_check,
    form_action,
    form_fields,
    launch,
    request_of,
)

SUMMARY_PATIENT = "lumbar-rfa-repeat-sustained-relief-ready"
NOT_ELIGIBLE_TO_SAVE = "lumbar-mbb-after-alif"  # only this module writes drafts for it
DOUBLE_SAVE = "lumbar-facet-therapeutic-stimulator-ready"  # only this module writes drafts for it
PARS = "pars-chronic-defect-edema-ready"
MINE = (SUMMARY_PATIENT, NOT_ELIGIBLE_TO_SAVE, DOUBLE_SAVE, PARS, NEEDS_DOCUMENTATION)


@pytest.fixture
def mine(fhir_server: Any) -> dict[str, SeedPatient]:
    return seeded_on(fhir_server, MINE)


def npi_of_sandbox_user(fhir_server: Any) -> str:
    practitioner = requests.get(f"{fhir_server.base_url}/Practitioner/{SANDBOX_PRACTITIONER_ID}", timeout=10).json()
    return next(i["value"] for i in practitioner["identifier"] if i["system"].endswith("us-npi"))


def summary_of(browser: Browser, app: RunningApp, launch_id: str) -> dict[str, Any]:
    response = as_json(browser, f"{app.url}/s/{launch_id}/")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def requisition_lines(fhir_server: Any, key: str) -> list[dict[str, Any]]:
    bundle = requests.get(
        f"{fhir_server.base_url}/ServiceRequest",
        params={"requisition": f"{SYSTEM_REQUISITION}|{key}"},
        headers={"Cache-Control": "no-cache"},
        timeout=10,
    ).json()
    return [entry["resource"] for entry in bundle.get("entry", [])]


@pytest.mark.sandbox
def test_the_summary_is_clinical_with_the_details_tucked_away_and_the_checklist_prefilled(
    browser: Browser, app_server: RunningApp, auth_server: Any, mine: dict[str, SeedPatient]
) -> None:
    patient = mine[SUMMARY_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(f"{app_server.url}/s/{launch_id}/")
    assert '<script src="/vendor/chart.umd.js" defer>' in page.text
    html = load_summary(browser, page).text
    summary = summary_of(browser, app_server, launch_id)
    clinical = summary["clinical"]
    # Three prior procedures with side, levels and relief, in date order; the chart has the scores and marks.
    procedures = clinical["procedures"]
    assert [p["date"] for p in procedures] == sorted(p["date"] for p in procedures) and len(procedures) == 3
    assert {p["kind"] for p in procedures} >= {"mbb", "rfa"}
    for procedure in procedures:
        assert procedure["side"] in ("left", "right", "bilateral") and procedure["levels"].startswith("L")
        assert f'data-procedure="{procedure["reference"]}"' in html
    assert any("%" in p["relief"] for p in procedures)
    assert sum(len(s["points"]) for s in clinical["painChart"]["series"]) >= 10
    assert len(clinical["painChart"]["procedures"]) == 3
    assert clinical["diagnoses"] and all(d["onset"] for d in clinical["diagnoses"])
    # The chart's data is on the page as JSON (not a script), and Chart.js comes from our own origin.
    assert '<script type="application/json" id="pain-chart-data">' in html
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    # The integration report is behind the details disclosure.
    details = html[html.index("<details") : html.index("</details>")]
    assert "<code>" in details and 'class="scopes"' in details and 'class="counts"' in details
    assert html.index("Suggested next step") < html.index("<details")
    # The checklist button carries the suggestion; the form opens filled in with it.
    suggestion = clinical["suggestion"]
    assert suggestion["step"] == "rfa-repeat" and suggestion["procedure"] == "radiofrequency-ablation"
    query = parse_qs(urlsplit(summary["checklist"]).query)
    assert query["procedure"] == [suggestion["procedure"]] and query["side"] == [suggestion["side"]]
    assert query["levels"] == [",".join(suggestion["levels"])]
    form = browser.get(urljoin(app_server.url, summary["checklist"])).text
    assert "data-prefilled" in form and "data-verdict" not in form  # filled in, not yet checked
    assert re.search(r'<option value="radiofrequency-ablation" selected>', form)
    for level in suggestion["levels"]:
        assert re.search(rf'value="{level}" checked', form)


@pytest.mark.sandbox
def test_chart_js_is_served_same_origin_and_nothing_else_from_node_modules(
    browser: Browser, app_server: RunningApp
) -> None:
    script = browser.get(f"{app_server.url}/vendor/chart.umd.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert browser.get(f"{app_server.url}/vendor/package.json").status_code == 404
    assert browser.get(f"{app_server.url}/vendor/..%2Fpackage.json").status_code == 404


@pytest.mark.sandbox
def test_the_clinician_is_read_once_per_launch_and_shown_by_name_and_npi_never_a_url(
    browser: Browser,
    app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    mine: dict[str, SeedPatient],
    outbound: list[requests.PreparedRequest],
) -> None:
    patient = mine[SUMMARY_PATIENT]
    npi = npi_of_sandbox_user(fhir_server)
    launch_id = launch(browser, app_server, auth_server, patient)
    first = browser.get(f"{app_server.url}/s/{launch_id}/")
    # The page answers without reading the Practitioner (it names the clinician only if already known); the
    # summary fragment reads it once and carries the name for the header (summary.js); later pages name it.
    fragment = load_summary(browser, first).text
    carried = re.search(r"<span [^>]*data-summary-clinician>([^<]+)</span>", fragment)
    assert carried and carried.group(1) == f"Dr. Casey Sandoval, MD (NPI {npi})"
    assert f"{fhir_server.base_url}/Practitioner" not in fragment
    pages = [
        fragment,
        browser.get(checklist_url(app_server, launch_id, request_of(patient))).text,
        browser.get(f"{app_server.url}/s/{launch_id}/").text,
    ]
    for html in pages[1:]:
        shown = re.search(r'<span class="clinician" data-clinician>([^<]+)</span>', html)
        assert shown and shown.group(1) == f"Dr. Casey Sandoval, MD (NPI {npi})"
        assert "Signed in as" not in html and f"{fhir_server.base_url}/Practitioner" not in html
        assert 'class="patient-banner"' in html
    app_requests = [r for r in sent_to(outbound, fhir_server.base_url) if "Authorization" in r.headers]
    practitioner_reads = [r for r in app_requests if "/Practitioner/" in (r.url or "")]
    assert len(practitioner_reads) == 1
    assert practitioner_reads[0].headers["Authorization"].startswith("Bearer ")  # with the launch's own token


@pytest.mark.sandbox
def test_attestation_report_and_provenance_name_the_clinician(
    browser: Browser, app_server: RunningApp, auth_server: Any, fhir_server: Any, mine: dict[str, SeedPatient]
) -> None:
    patient = mine[NEEDS_DOCUMENTATION]
    npi = npi_of_sandbox_user(fhir_server)
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    page = browser.get(checklist_url(app_server, launch_id, fields))
    criterion = re.search(r'data-attest="([A-Z0-9-]+)"', page.text)
    assert criterion
    attest = form_fields(page.text, f'data-attest="{criterion.group(1)}"')
    response = browser.post_form(
        urljoin(page.url, form_action(page.text, f'data-attest="{criterion.group(1)}"')),
        {**attest, "criterion": criterion.group(1), "status": "met", "note": "ODI 38 % on the paper intake form"},
    )
    assert response.status_code == 200
    block = response.text[response.text.index('class="attestation"') :]
    assert f"Dr. Casey Sandoval, MD (NPI {npi})" in block[:600] and "http" not in block[:400]
    report = browser.get(f"{app_server.url}/s/{launch_id}/export/report.pdf", params=fields)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(report.content)).pages)
    assert "Clinician: Dr. Casey Sandoval, MD (NPI" in text and npi in text
    assert "attested by Dr. Casey Sandoval" in text.replace("\n", " ")


@pytest.mark.sandbox
def test_a_not_eligible_order_is_saved_only_after_a_confirmation(
    browser: Browser, app_server: RunningApp, auth_server: Any, fhir_server: Any, mine: dict[str, SeedPatient]
) -> None:
    patient = mine[NOT_ELIGIBLE_TO_SAVE]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert 'data-verdict="not-eligible"' in page.text
    key = re.search(r'data-order-key="([0-9a-f]+)"', page.text)
    assert key
    save_fields = form_fields(page.text, "data-save-order")
    action = urljoin(page.url, form_action(page.text, "data-save-order"))

    asked = browser.post(action, data=save_fields)
    assert asked.status_code == 200 and "data-confirm-not-eligible" in asked.text
    assert 'class="patient-banner"' in asked.text
    expected = expected_check(fhir_server, patient, fields)
    for criterion in (c for c in expected["criteria"] if c["status"] == "not-met"):
        assert criterion["id"] in asked.text
    assert requisition_lines(fhir_server, key.group(1)) == []  # nothing written yet

    confirm = form_fields(asked.text, "data-confirm-save")
    assert confirm["confirm"] == "not-eligible"
    forged = browser.post(action, data={**confirm, "csrf_token": "forged"})
    assert forged.status_code in (400, 403)
    assert requisition_lines(fhir_server, key.group(1)) == []
    saved = browser.post(action, data=confirm)
    assert saved.status_code == 200 and "Draft order saved in the EHR" in saved.text
    assert 'class="patient-banner"' in saved.text
    lines = requisition_lines(fhir_server, key.group(1))
    assert len(lines) >= 1
    provenance = requests.get(
        f"{fhir_server.base_url}/Provenance", params={"target": f"ServiceRequest/{lines[0]['id']}"}, timeout=10
    )
    assert provenance.status_code == 200, provenance.text
    agents = [a for e in provenance.json().get("entry", []) for a in e["resource"]["agent"]]
    authors = [a["who"] for a in agents if a["who"].get("reference", "").startswith("Practitioner/")]
    assert authors and all(a["display"].startswith("Dr. Casey Sandoval, MD (NPI ") for a in authors)


@pytest.mark.sandbox
def test_a_double_submission_writes_the_order_once(
    browser: Browser, app_server: RunningApp, auth_server: Any, fhir_server: Any, mine: dict[str, SeedPatient]
) -> None:
    patient = mine[DOUBLE_SAVE]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(checklist_url(app_server, launch_id, request_of(patient)))
    key = re.search(r'data-order-key="([0-9a-f]+)"', page.text)
    assert key and 'data-verdict="ready"' in page.text
    save_fields = form_fields(page.text, "data-save-order")
    action = urljoin(page.url, form_action(page.text, "data-save-order"))
    answers: list[requests.Response] = []
    clicks = [threading.Thread(target=lambda: answers.append(browser.post(action, data=save_fields))) for _ in "12"]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200]
    lines = requisition_lines(fhir_server, key.group(1))
    coded = len(expected_check(fhir_server, patient, request_of(patient))["coding"]["lines"])
    assert len(lines) == coded  # one ServiceRequest per CPT line, not two
    actions = [set(re.findall(r'data-action="([a-z]+)"', a.text)) for a in answers]
    assert any("created" in found for found in actions) and any(found <= {"unchanged", "save"} for found in actions)


@pytest.mark.sandbox
def test_verdict_wording_matches_the_result_for_pars_and_not_eligible(
    browser: Browser, app_server: RunningApp, auth_server: Any, fhir_server: Any, mine: dict[str, SeedPatient]
) -> None:
    pars = mine[PARS]
    launch_id = launch(browser, app_server, auth_server, pars)
    html = browser.get(checklist_url(app_server, launch_id, request_of(pars, payer="medicare"))).text
    assert 'data-verdict="ready"' in html and 'data-coverage="uncertain"' in html
    assert "coverage is uncertain" in html and "can go to the payer" not in html
    assert "Payer policy:" not in html and "Clinical checklist (spine-auth):" in html
    assert "policy-rules" not in html

    failing = mine[NOT_ELIGIBLE_TO_SAVE]
    launch_id = launch(browser, app_server, auth_server, failing)
    fields = request_of(failing)
    html = browser.get(checklist_url(app_server, launch_id, fields)).text
    expected = expected_check(fhir_server, failing, fields)
    not_met = [c["id"] for c in expected["criteria"] if c["status"] == "not-met"]
    banner = html[html.index("data-verdict-failed") : html.index('class="verdict-meaning"')]
    assert re.findall(r'href="#criterion-([A-Z0-9-]+)"', banner) == not_met
    assert "The payer's policy does not cover" in html_text.unescape(html) and "policy-rules" not in html
