"""The staff worklist served for real: a clinician saves a draft order, a staff user launched without a patient
sees it, prepares it, submits it to the sandbox payer and sees the decision; every step is in the audit log."""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from smart_app.sandbox.payer import PayerHandle
from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import Browser, RunningApp, hidden_inputs
from tests.web.test_checklist_support import launch, request_of
from tests.worklist.conftest import FIRST, SECOND, request_ids, staff_launch


def save_draft(browser: Browser, app: RunningApp, auth_server: Any, patient: SeedPatient) -> str:
    launch_id = launch(browser, app, auth_server, patient)
    saved = browser.post(f"{app.url}/s/{launch_id}/api/orders", json=request_of(patient))
    assert saved.status_code == 200, saved.text
    assert saved.json()["written"] or saved.json()["kept_locally"]
    return str(saved.json()["order_key"])


def request_id_for(browser: Browser, app: RunningApp, staff: str, patient: SeedPatient) -> str:
    page = browser.get(f"{app.url}/s/{staff}/worklist", params={"q": patient.display_name.split()[-1]})
    assert page.status_code == 200
    ids = request_ids(page.text)
    assert len(ids) == 1, page.text
    return ids[0]


def post_on(browser: Browser, url: str, page_html: str, **fields: str) -> requests.Response:
    return browser.post_form(url, {"csrf_token": hidden_inputs(page_html)["csrf_token"], **fields})


def wait_for_status(browser: Browser, url: str, status: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = browser.get(url).text
        if f'data-status="{status}"' in html:
            return html
        time.sleep(0.2)
    raise AssertionError(f"the request did not reach {status}")


@pytest.mark.sandbox
def test_clinician_saves_staff_submits_payer_pends_then_approves(
    caplog: pytest.LogCaptureFixture,
    worklist_app: RunningApp,
    auth_server: Any,
    payer: PayerHandle,
    ready_patients: dict[str, SeedPatient],
    browser: Browser,
) -> None:
    caplog.set_level(logging.DEBUG)
    patient = ready_patients[FIRST]
    save_draft(browser, worklist_app, auth_server, patient)
    save_draft(browser, worklist_app, auth_server, patient)  # saving again does not add a second request

    staff_browser = browser  # the same browser session owns both launches; a new one would be refused
    staff = staff_launch(staff_browser, worklist_app, auth_server)
    request_id = request_id_for(staff_browser, worklist_app, staff, patient)
    listing = staff_browser.get(f"{worklist_app.url}/s/{staff}/worklist", params={"view": "attention"}).text
    assert request_id in listing and "64493" in listing and "bilateral" in listing

    url = f"{worklist_app.url}/s/{staff}/worklist/{request_id}"
    page = staff_browser.get(url)
    assert 'data-status="draft"' in page.text
    moved = post_on(staff_browser, f"{url}/status", page.text, status="ready", note="documents checked")
    assert moved.status_code == 200 and 'data-status="ready"' in moved.text, moved.text[-1500:]
    payer.set_switches(mode="pend", pend_seconds=1.0, then="approve")
    submitted = post_on(staff_browser, f"{url}/submit", moved.text)
    assert submitted.status_code == 200 and "Pended" in submitted.text, submitted.text
    assert 'data-status="pended"' in submitted.text and "CMS-0057-F" in submitted.text
    approved = wait_for_status(staff_browser, url, "approved")
    number = re.search(r'<span id="auth-number">(SBX-[0-9-]+)</span>', approved)
    assert number, approved
    assert payer.stats()["submits"] == 1
    again = post_on(staff_browser, f"{url}/submit", approved)
    assert "only a request that is ready to submit" in again.text and payer.stats()["submits"] == 1

    found = staff_browser.get(f"{worklist_app.url}/s/{staff}/worklist", params={"q": number.group(1)}).text
    assert request_ids(found) == [request_id]
    exported = staff_browser.get(f"{worklist_app.url}/s/{staff}/worklist.csv", params={"q": number.group(1)})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["request_id"], r["status"], r["auth_number"]) for r in rows] == [
        (request_id, "approved", number.group(1))
    ]

    audit = staff_browser.get(f"{worklist_app.url}/s/{staff}/audit.csv").text
    events = {row["event"] for row in csv.DictReader(io.StringIO(audit))}
    assert {
        "data.read",
        "data.edit",
        "prior-auth.created",
        "prior-auth.submission",
        "prior-auth.status-change",
        "data.export",
    } <= events
    assert f"PriorAuthRequest/{request_id}" in audit and "127.0.0.1" in audit
    clinician_saves = [
        row
        for row in csv.DictReader(io.StringIO(audit))
        if row["subject"] == f"Patient/{patient.id}" and row["event"] == "data.edit"
    ]
    assert len(clinician_saves) == 2 and "/Practitioner/" in clinician_saves[0]["actor"]
    # no PHI and no tokens in the application's logs, whatever the level
    family = patient.display_name.split()[-1]
    app_logs = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith(("smart_app", "werkzeug"))
    )
    assert "smart_app.web.requests" in {record.name for record in caplog.records}  # the app did log
    assert family not in app_logs and number.group(1) not in app_logs and "Bearer" not in app_logs


@pytest.mark.sandbox
def test_a_second_patient_is_denied_with_its_reason(
    worklist_app: RunningApp,
    auth_server: Any,
    payer: PayerHandle,
    ready_patients: dict[str, SeedPatient],
    browser: Browser,
) -> None:
    patient = ready_patients[SECOND]
    save_draft(browser, worklist_app, auth_server, patient)
    staff = staff_launch(browser, worklist_app, auth_server)
    request_id = request_id_for(browser, worklist_app, staff, patient)
    url = f"{worklist_app.url}/s/{staff}/worklist/{request_id}"
    page = browser.get(url)
    if 'data-status="draft"' in page.text:
        page = post_on(browser, f"{url}/status", page.text, status="ready")
    payer.set_switches(mode="deny", deny_reason="no-diagnosis")
    denied = post_on(browser, f"{url}/submit", page.text, priority="expedited")
    assert 'data-status="denied"' in denied.text
    assert "priority: expedited" in denied.text  # recorded, and the clock was 72 hours:
    submitted_at = re.search(r'id="submitted">([0-9: -]+)<', denied.text)
    due_at = re.search(r'id="due">([0-9: -]+)', denied.text)
    assert submitted_at and due_at
    hours = (
        datetime.fromisoformat(due_at.group(1).strip()) - datetime.fromisoformat(submitted_at.group(1))
    ).total_seconds() / 3600
    assert hours == 72
    assert "Diagnosis does not support the requested service" in denied.text
    assert (
        browser.get(f"{worklist_app.url}/s/{staff}/worklist", params={"status": "denied"}).text.count(request_id) >= 1
    )


@pytest.mark.sandbox
def test_forms_need_the_csrf_token_and_notifications_need_the_secret(
    worklist_app: RunningApp, auth_server: Any, ready_patients: dict[str, SeedPatient], browser: Browser
) -> None:
    save_draft(browser, worklist_app, auth_server, ready_patients[FIRST])
    staff = staff_launch(browser, worklist_app, auth_server)
    request_id = request_id_for(browser, worklist_app, staff, ready_patients[FIRST])
    forged = browser.post(f"{worklist_app.url}/s/{staff}/worklist/{request_id}/assign", data={"assignee": "me"})
    assert forged.status_code == 403
    stranger = Browser().get(f"{worklist_app.url}/s/{staff}/worklist")
    assert stranger.status_code == 403
    notification = {"resourceType": "Bundle", "type": "history", "entry": []}
    refused = requests.post(
        f"{worklist_app.url}/payer-notifications/sandbox-payer",
        json=notification,
        headers={"Authorization": "Bearer guessed"},
        timeout=10,
    )
    assert refused.status_code == 401 and refused.json()["resourceType"] == "OperationOutcome"
    unknown = requests.post(f"{worklist_app.url}/payer-notifications/nobody", json=notification, timeout=10)
    assert unknown.status_code == 404


@pytest.mark.sandbox
def test_a_standalone_staff_launch_asks_for_user_scopes_and_opens_the_worklist(
    worklist_app: RunningApp, auth_server: Any, fhir_server: Any, browser: Browser
) -> None:
    start = browser.get(
        f"{worklist_app.url}/launch", params={"iss": fhir_server.base_url, "staff": "1"}, allow_redirects=False
    )
    assert start.status_code == 302
    scope = parse_qs(urlsplit(start.headers["Location"]).query)["scope"][0].split()
    assert "user/Patient.rs" in scope and "launch/patient" not in scope
    assert not any(item.startswith("patient/") for item in scope)
    page = browser.follow(start.headers["Location"])
    assert page.status_code == 200 and page.url.endswith("/worklist")
    assert "Prior-authorization worklist" in page.text
