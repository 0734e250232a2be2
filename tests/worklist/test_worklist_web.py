"""The staff worklist served for real: a clinician saves a draft order, a staff user launched without a patient
sees it, builds its packet (reading the patient's record with the staff token), marks it ready, submits the packet's
PAS Bundle to the sandbox payer and sees the decision; every step is in the audit log."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
import zipfile
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from smart_app.sandbox.payer import PayerHandle
from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.store.prior_auth_requests import PriorAuthStore, RequestEntry
from tests.web.conftest import Browser, RunningApp, hidden_inputs
from tests.web.test_checklist_support import checklist_url, form_action, form_fields, launch, request_of
from tests.worklist.conftest import CLINICIAN_PACKET, FIRST, SECOND, request_ids, staff_launch
from tests.worklist.support import entry


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


PACKET_FILES = ["packet.pdf", "pas-bundle.json", "questionnaire-response.json", "manifest.json"]


def build_packet(browser: Browser, url: str, page_html: str, **choices: str) -> str:
    """Build the packet from the request page (the staff's choices, the checklist form's defaults otherwise); the
    page answered, after checking that it shows the packet and its PDF downloads as a PDF."""
    fields = {"urgency": "standard", "place_of_service": "11", "facility_name": "Example Spine ASC", **choices}
    page = post_on(browser, f"{url}/packet", page_html, **fields)
    assert page.status_code == 200 and 'id="packet-built"' in page.text, page.text[-2000:]
    pdf = browser.get(f"{url}/packet.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    return page.text


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
    assert 'data-status="draft"' in page.text and 'id="packet-missing"' in page.text
    refused = post_on(staff_browser, f"{url}/status", page.text, status="ready", note="documents checked")
    assert 'data-status="draft"' in refused.text and "Build the packet first" in refused.text
    built = build_packet(staff_browser, url, refused.text)
    assert "Packet built." in built and "Packet built " in built
    first_zip = staff_browser.get(f"{url}/packet.zip")
    rebuilt = build_packet(staff_browser, url, built)  # a second build replaces the kept packet
    assert "Packet rebuilt; it replaces the one built before." in rebuilt
    assert rebuilt.count('data-kind="packet"') == 2  # the history keeps both builds
    second_zip = staff_browser.get(f"{url}/packet.zip")
    assert zipfile.ZipFile(io.BytesIO(first_zip.content)).namelist() == PACKET_FILES
    assert zipfile.ZipFile(io.BytesIO(second_zip.content)).namelist() == PACKET_FILES
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(second_zip.content)).read("manifest.json"))
    # the staff token read this patient's record: the check on it says what the clinician's check said
    assert manifest["verdict"] == "ready" and manifest["patient"] == f"Patient/{patient.id}", manifest
    moved = post_on(staff_browser, f"{url}/status", rebuilt, status="ready", note="documents checked")
    assert moved.status_code == 200 and 'data-status="ready"' in moved.text, moved.text[-1500:]
    payer.set_switches(mode="pend", pend_seconds=1.0, then="approve")
    submitted = post_on(staff_browser, f"{url}/submit", moved.text)
    assert submitted.status_code == 200 and "Pended" in submitted.text, submitted.text
    [sent] = [claim.request_bundle for claim in payer.state.claims.values()]
    kept_bundle = json.loads(zipfile.ZipFile(io.BytesIO(second_zip.content)).read("pas-bundle.json"))
    assert [e["fullUrl"] for e in sent["entry"]] == [e["fullUrl"] for e in kept_bundle["entry"]]
    assert sent["identifier"]["value"] != kept_bundle["identifier"]["value"]  # the request's claim identifier
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
        "prior-auth.packet-built",
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
        built = build_packet(browser, url, page.text, urgency="expedited", urgency_reason="progressive weakness")
        page = post_on(browser, f"{url}/status", built, status="ready")
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


@pytest.mark.sandbox
def test_a_request_saved_before_packets_asks_to_save_again_and_bad_choices_are_explained(
    worklist_app: RunningApp, auth_server: Any, ready_patients: dict[str, SeedPatient], browser: Browser
) -> None:
    staff = staff_launch(browser, worklist_app, auth_server)
    store = PriorAuthStore(worklist_app.services.database)
    old, _ = store.enter(entry(90, ehr="sandbox"), actor="Practitioner/dr1", now=time.time())  # no `details.form`
    url = f"{worklist_app.url}/s/{staff}/worklist/{old.id}"
    page = browser.get(url)
    assert page.status_code == 200 and 'id="packet-save-again"' in page.text, page.text[-800:]
    answered = post_on(browser, f"{url}/packet", page.text, urgency="standard")
    assert "Packet not built" in answered.text and "save the draft order again" in answered.text
    assert 'id="packet-missing"' in answered.text and browser.get(f"{url}/packet.pdf").status_code == 404

    patient = ready_patients[FIRST]
    form = {**request_of(patient), "as_of": date.today().isoformat()}
    saved = RequestEntry(
        **{**entry(91, ehr="sandbox").__dict__, "patient_ref": f"Patient/{patient.id}", "details": {"form": form}}
    )
    fresh, _ = store.enter(saved, actor="Practitioner/dr1", now=time.time())
    url = f"{worklist_app.url}/s/{staff}/worklist/{fresh.id}"
    page = browser.get(url)
    expedited = post_on(browser, f"{url}/packet", page.text, urgency="expedited")  # no reason given
    assert "Packet not built: an expedited request needs a reason" in expedited.text
    assert 'id="packet-missing"' in expedited.text
    forged = browser.post(f"{url}/packet", data={"urgency": "standard"})
    assert forged.status_code == 403
    assert "Packet built." in build_packet(browser, url, expedited.text)  # the staff token reads this patient


@pytest.mark.sandbox
def test_the_clinicians_packet_is_kept_with_the_request_until_it_is_sent(
    worklist_app: RunningApp,
    auth_server: Any,
    payer: PayerHandle,
    ready_patients: dict[str, SeedPatient],
    browser: Browser,
) -> None:
    patient = ready_patients[CLINICIAN_PACKET]
    launch_id = launch(browser, worklist_app, auth_server, patient)
    saved = browser.post(f"{worklist_app.url}/s/{launch_id}/api/orders", json=request_of(patient))
    assert saved.status_code == 200, saved.text
    checklist = browser.get(checklist_url(worklist_app, launch_id, request_of(patient)))
    fields = {**form_fields(checklist.text, "data-packet-form"), "place_of_service": "22"}
    action = urljoin(checklist.url, form_action(checklist.text, "data-packet-form"))
    built = browser.post(action, data=fields)
    assert built.status_code == 200 and built.headers["Content-Type"] == "application/zip"
    request_id = built.headers["X-Packet-Kept"]

    staff = staff_launch(browser, worklist_app, auth_server)
    assert request_id_for(browser, worklist_app, staff, patient) == request_id
    url = f"{worklist_app.url}/s/{staff}/worklist/{request_id}"
    page = browser.get(url).text
    assert 'id="packet-built"' in page and "Dr. Casey Sandoval" in page and "place of service 22" in page
    kept = browser.get(f"{url}/packet.zip")
    assert zipfile.ZipFile(io.BytesIO(kept.content)).read("pas-bundle.json") == zipfile.ZipFile(
        io.BytesIO(built.content)
    ).read("pas-bundle.json")
    audit = browser.get(f"{worklist_app.url}/s/{staff}/audit.csv").text
    assert any(
        row["event"] == "prior-auth.packet-built" and row["subject"] == f"PriorAuthRequest/{request_id}"
        for row in csv.DictReader(io.StringIO(audit))
    )

    ready = post_on(browser, f"{url}/status", page, status="ready")
    payer.set_switches(mode="approve")
    sent = post_on(browser, f"{url}/submit", ready.text)
    assert 'data-status="approved"' in sent.text
    again = browser.post(action, data=fields)  # the clinician builds again after submission: not kept
    assert again.status_code == 200 and "X-Packet-Kept" not in again.headers
    staff_again = post_on(browser, f"{url}/packet", sent.text, urgency="standard")
    assert "its packet is kept as sent" in staff_again.text and 'id="packet-sent"' in staff_again.text
    assert 'id="packet-form"' not in staff_again.text
    assert browser.get(f"{url}/packet.zip").content == kept.content
