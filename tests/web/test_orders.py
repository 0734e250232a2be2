""" "Save draft order", "Withdraw draft" and the report export from the checklist page and through the API, against
the sandbox: written once (saving again changes nothing), withdrawn as `revoked`, and kept in the app with the
reason when the grant has no write scope."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
import responses
from pypdf import PdfReader

from smart_app.core.documents import SYSTEM_REQUISITION
from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.store.drafts import DraftStore
from tests.web.conftest import ORDER_PATIENT, Browser, RunningApp
from tests.web.test_checklist_support import (
    checklist_url,
    form_action,
    form_fields,
    launch,
    request_of,
    validate_check_result,
)

NO_ORDER_WRITES = ["patient/ServiceRequest.*", "patient/DocumentReference.*"]


def written_rows(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-reference="([^"]+)" data-action="([a-z]+)">', html))


def post_marked_form(browser: Browser, page: Any, marker: str) -> Any:
    return browser.post(urljoin(page.url, form_action(page.text, marker)), data=form_fields(page.text, marker))


def requisition_lines(fhir_server: Any, order_key: str) -> list[dict[str, Any]]:
    bundle = requests.get(
        f"{fhir_server.base_url}/ServiceRequest",
        params={"requisition": f"{SYSTEM_REQUISITION}|{order_key}"},
        headers={"Cache-Control": "no-cache"},
        timeout=10,
    ).json()
    return [entry["resource"] for entry in bundle.get("entry", [])]


def order_key_on(html: str) -> str:
    match = re.search(r'data-order-key="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.sandbox
def test_save_writes_once_then_changes_nothing_and_withdraw_revokes(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient, as_of="2026-11-16")  # this test's own order key
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert 'data-write-mode="export-only"' not in page.text
    key = order_key_on(page.text)
    assert requisition_lines(fhir_server, key) == []

    saved = post_marked_form(browser, page, "data-save-order")
    assert saved.status_code == 200, saved.text
    assert "Draft order saved in the EHR" in saved.text
    assert 'data-kept-locally="false"' in saved.text
    first = written_rows(saved.text)
    assert {reference.split("/")[0] for reference in first} >= {"ServiceRequest", "DocumentReference", "Provenance"}
    assert set(first.values()) <= {"created", "unchanged"}  # the shared app Device may exist already
    assert all(action == "created" for reference, action in first.items() if reference.startswith("Service"))
    lines = requisition_lines(fhir_server, key)
    assert sorted(f"ServiceRequest/{line['id']}" for line in lines) == sorted(
        r for r in first if r.startswith("ServiceRequest/")
    )
    assert all(line["status"] == "draft" and line["intent"] == "proposal" for line in lines)
    assert all(line["requester"]["reference"].startswith("Practitioner/") for line in lines)

    # Each written resource links to its key-fields view.
    link = re.search(r'<a href="([^"]+/resource/ServiceRequest/[^"]+)">', saved.text)
    assert link
    view = browser.get(urljoin(saved.url, link.group(1).replace("&amp;", "&")))
    assert view.status_code == 200 and "draft" in view.text

    # Saving again writes nothing new.
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert "data-draft-in-ehr" in page.text
    again = post_marked_form(browser, page, "data-save-order")
    assert again.status_code == 200
    assert set(written_rows(again.text).values()) == {"unchanged"}
    assert len(requisition_lines(fhir_server, key)) == len(lines)

    # Withdraw: the lines become revoked, and the page no longer offers a draft in the EHR.
    withdrawn = post_marked_form(browser, again, "data-withdraw-order")
    assert withdrawn.status_code == 200
    assert "Draft order withdrawn" in withdrawn.text
    revoked = {ref: action for ref, action in written_rows(withdrawn.text).items() if ref.startswith("ServiceRequest/")}
    assert revoked and set(revoked.values()) == {"updated"}
    assert {line["status"] for line in requisition_lines(fhir_server, key)} == {"revoked"}
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert "data-draft-in-ehr" not in page.text


@pytest.mark.sandbox
def test_the_api_saves_and_withdraws_with_the_order_commands_json(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    body = request_of(patient, as_of="2026-11-17")
    url = f"{app_server.url}/s/{launch_id}/api/orders"
    first = browser.post(url, json=body)
    assert first.status_code == 200, first.text
    document = first.json()
    assert set(document) >= {"check", "written", "kept_locally", "reason"}
    validate_check_result(document["check"])
    assert document["kept_locally"] is False and document["reason"] is None
    assert any(item["action"] == "created" for item in document["written"])

    second = browser.post(url, json=body).json()
    assert {item["action"] for item in second["written"]} == {"unchanged"}
    assert second["order_key"] == document["order_key"]

    withdrawn = browser.post(f"{url}/withdraw", json=body)
    assert withdrawn.status_code == 200
    lines = [item for item in withdrawn.json()["written"] if item["reference"].startswith("ServiceRequest/")]
    assert lines and {item["action"] for item in lines} == {"updated"}
    assert {line["status"] for line in requisition_lines(fhir_server, document["order_key"])} == {"revoked"}

    bad = browser.post(url, json={**body, "levels": "L4-L9"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["levels"]


@pytest.mark.sandbox
def test_without_write_scopes_the_page_says_export_only_and_the_draft_is_kept_in_the_app(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    auth_server.set_switches(drop_scopes=NO_ORDER_WRITES)
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient, as_of="2026-11-18")
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert 'data-write-mode="export-only"' in page.text
    assert "This launch cannot write orders; export only." in page.text
    key = order_key_on(page.text)

    saved = post_marked_form(browser, page, "data-save-order")
    assert saved.status_code == 200
    assert 'data-kept-locally="true"' in saved.text
    assert "permission to write orders" in saved.text
    assert "the draft order is kept in the app" in saved.text
    assert written_rows(saved.text) == {}
    assert requisition_lines(fhir_server, key) == []
    store = DraftStore(app_server.services.database, app_server.services.cipher)
    kept = store.get(key, ehr=fhir_server.base_url)
    assert kept is not None and "permission" in kept.reason

    # Export stays available: the kept draft and the report.
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert "data-kept-draft" in page.text
    draft = browser.get(f"{app_server.url}/s/{launch_id}/export/draft-order.json", params=fields)
    assert draft.status_code == 200
    assert draft.json()["type"] == "transaction"
    assert draft.json() == store.export(key, ehr=fhir_server.base_url)
    report = browser.get(f"{app_server.url}/s/{launch_id}/export/report.pdf", params=fields)
    assert report.status_code == 200
    assert report.headers["Content-Type"] == "application/pdf"
    assert "attachment" in report.headers["Content-Disposition"]
    assert patient.display_name.split()[-1] not in report.headers["Content-Disposition"]

    api = browser.post(f"{app_server.url}/s/{launch_id}/api/orders", json=fields).json()
    assert api["kept_locally"] is True and "permission" in api["reason"]
    assert api["written"] == []


@pytest.mark.sandbox
def test_the_report_pdf_is_the_checklist_of_the_request(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    check = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=fields).json()
    report = browser.get(f"{app_server.url}/s/{launch_id}/export/report.pdf", params=fields)
    assert report.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(report.content)).pages)
    for criterion in check["criteria"]:
        assert criterion["id"] in text
    for line in check["coding"]["lines"]:
        assert line["code"] in text
    missing = browser.get(f"{app_server.url}/s/{launch_id}/export/report.pdf", params={**fields, "levels": ""})
    assert missing.status_code == 400


@pytest.mark.sandbox
def test_order_forms_need_their_token(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient, as_of="2026-11-19")
    for path in ("orders", "orders/withdraw"):
        forged = browser.post(f"{app_server.url}/s/{launch_id}/{path}", data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403
    no_draft = browser.get(f"{app_server.url}/s/{launch_id}/export/draft-order.json", params=fields)
    assert no_draft.status_code == 404


@pytest.mark.sandbox
def test_an_ehr_refusal_is_explained_with_the_servers_words_and_the_draft_is_kept(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient, as_of="2026-11-22")
    page = browser.get(checklist_url(app_server, launch_id, fields))
    key = order_key_on(page.text)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "business-rule", "diagnostics": "Orders need a signed encounter"}],
    }

    def refuse_transactions(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        """The EHR refuses the order's transaction; the record's batch read goes to the real server."""
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        if json.loads(body).get("type") == "transaction":
            return 422, {"Content-Type": "application/fhir+json"}, json.dumps(outcome).encode()
        headers = {name: request.headers[name] for name in ("Content-Type", "Accept") if name in request.headers}
        forwarded = urllib.request.Request(str(request.url), data=body, headers=headers, method="POST")
        with urllib.request.urlopen(forwarded, timeout=10) as answer:
            return answer.status, {"Content-Type": answer.headers["Content-Type"]}, answer.read()

    # A real sandbox accepts this order; refusing it on demand needs a stand-in for the EHR's answer.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(re.escape(fhir_server.base_url) + "/?$"), refuse_transactions)
        for url in (app_server.url, auth_server.base_url, fhir_server.base_url):
            mock.add_passthru(url)
        saved = post_marked_form(browser, page, "data-save-order")
    assert saved.status_code == 200
    assert 'data-kept-locally="true"' in saved.text
    assert "rejected the order as invalid" in saved.text
    assert "Orders need a signed encounter" in saved.text
    assert "the draft order is kept in the app" in saved.text
    assert "data-export-draft" in saved.text
    assert requisition_lines(fhir_server, key) == []
    kept = DraftStore(app_server.services.database, app_server.services.cipher).get(key, ehr=fhir_server.base_url)
    assert kept is not None and "Orders need a signed encounter" in kept.diagnostics
