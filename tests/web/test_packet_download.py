"""The checklist page's "Prior-auth packet" form against the sandbox: a zip for a ready and a needs-documentation
patient whose Claim lines equal the check's coding lines, CSRF refused, a bad choice refused with the reason, and
"also save the PDF to the EHR" writing once."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import urljoin

import pytest
from pypdf import PdfReader

from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import NEEDS_DOCUMENTATION, ORDER_PATIENT, READY, Browser, RunningApp
from tests.web.test_checklist_support import checklist_url, form_action, form_fields, launch, request_of

pytestmark = pytest.mark.sandbox
MARKER = "data-packet-form"


def _post_packet(browser: Browser, page: Any, **choices: str) -> Any:
    fields = {**form_fields(page.text, MARKER), **choices}
    return browser.post(urljoin(page.url, form_action(page.text, MARKER)), data=fields)


def _zip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"] == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


@pytest.mark.parametrize("name", [READY, NEEDS_DOCUMENTATION])
def test_packet_download_for_ready_and_needs_documentation_patients(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser, name: str
) -> None:
    patient = seeded[name]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert MARKER in page.text and "Prior-auth packet" in page.text
    check = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=fields).json()

    for _round in (1, 2):  # twice: the same request gives the same packet content
        archive = _zip(_post_packet(browser, page, place_of_service="22", service_date=fields.get("as_of", "")))
        assert sorted(archive.namelist()) == [
            "manifest.json",
            "packet.pdf",
            "pas-bundle.json",
            "questionnaire-response.json",
        ]
        claim = json.loads(archive.read("pas-bundle.json"))["entry"][0]["resource"]
        claim_lines = [
            (item["productOrService"]["coding"][0]["code"], [m["coding"][0]["code"] for m in item.get("modifier", [])],
             item["quantity"]["value"])
            for item in claim["item"]
        ]  # fmt: skip
        assert claim_lines == [(line["code"], line["modifiers"], line["units"]) for line in check["coding"]["lines"]]
        assert {item["locationCodeableConcept"]["coding"][0]["code"] for item in claim["item"]} == {"22"}
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["verdict"] == check["verdict"] == patient.expected_verdict
        if check["verdict"] == "needs-documentation":
            assert any("not shown by the record" in item for item in manifest["open_items"])
        response = json.loads(archive.read("questionnaire-response.json"))
        origins = {
            a["extension"][0]["extension"][0]["valueCode"] for i in response["item"][0]["item"] for a in i["answer"]
        }
        assert origins == {"auto"}
        reader = PdfReader(io.BytesIO(archive.read("packet.pdf")))
        first = reader.pages[0].extract_text()
        assert "Prior authorization request" in first and "22 On Campus-Outpatient Hospital" in first
        assert all(f"of {len(reader.pages)}" in page_.extract_text() for page_ in reader.pages)


def test_packet_form_needs_csrf_and_valid_choices(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[READY]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(checklist_url(app_server, launch_id, request_of(patient)))
    url = urljoin(page.url, form_action(page.text, MARKER))
    no_token = {key: value for key, value in form_fields(page.text, MARKER).items() if key != "csrf_token"}
    assert browser.post(url, data=no_token).status_code == 403
    refused = _post_packet(browser, page, urgency="expedited")
    assert refused.status_code == 400 and "reason" in refused.text
    bad_date = _post_packet(browser, page, service_date="next week")
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.text
    expedited = _zip(_post_packet(browser, page, urgency="expedited", urgency_reason="rapidly worsening function"))
    claim = json.loads(expedited.read("pas-bundle.json"))["entry"][0]["resource"]
    assert claim["priority"]["coding"][0]["code"] == "stat"


def test_save_packet_pdf_to_the_ehr_once(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[ORDER_PATIENT]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(checklist_url(app_server, launch_id, request_of(patient, as_of="2026-11-17")))
    first = _post_packet(browser, page, write_to_ehr="1")
    _zip(first)
    written = json.loads(first.headers["X-Packet-Written"])
    assert "X-Packet-Not-Written" not in first.headers
    assert any(item["reference"].startswith("DocumentReference/") and item["action"] == "created" for item in written)
    again = _post_packet(browser, page, write_to_ehr="1")
    _zip(again)
    assert {item["action"] for item in json.loads(again.headers["X-Packet-Written"])} == {"unchanged"}
