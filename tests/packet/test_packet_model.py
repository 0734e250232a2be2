"""The packet from a public case without a server: attached PDFs merged under our header with the page count
right, text documents shown, attestations as `manual` answers with their author, staff choices checked, and the
Claim lines equal to the check's coding lines."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas

from smart_app.core.model import CheckRequest
from smart_app.core.packet.model import AttestationNote, PacketInputError, PacketOptions, Practice
from smart_app.sandbox.seed.sandbox_user import sandbox_user_resources
from smart_app.workflow.check import run_check
from smart_app.workflow.packet import build_packet_files
from tests.conftest import CASES_DIR

CASES = CASES_DIR
CREATED = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
PRACTICE = Practice.from_mapping({"name": "Example Spine Clinic", "npi": "1234567893", "tin": "123456789"})


def _record(name: str) -> list[dict[str, Any]]:
    bundle = json.loads((CASES / f"{name}.bundle.json").read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def _pdf(pages: int) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for number in range(1, pages + 1):
        canvas.drawString(100, 700, f"Outside procedure note, page {number}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _document(doc_id: str, patient: str, content_type: str, data: bytes, title: str) -> dict[str, Any]:
    attachment = {"contentType": content_type, "data": base64.b64encode(data).decode(), "title": title}
    return {"resourceType": "DocumentReference", "id": doc_id, "status": "current", "subject": {"reference": patient},
            "date": "2026-10-01T09:00:00Z", "content": [{"attachment": attachment}]}  # fmt: skip


def _files(record: list[dict[str, Any]], answers: dict[str, Any] | None = None, **options: Any) -> Any:
    request = CheckRequest.build(procedure="medial-branch-block", intent="diagnostic", levels="L4-L5,L5-S1",
                                 side="bilateral")  # fmt: skip
    result = run_check(record, request, as_of=date(2026, 11, 15), answers=answers, payer_from_record=True)
    organization, practitioner, _role = sandbox_user_resources()
    attestations = [
        AttestationNote(key, "A disability scale is recorded at baseline", value["status"], value["note"],
                        f"Practitioner/{practitioner['id']}", "2026-11-18T10:00:00Z")
        for key, value in (answers or {}).items()
    ]  # fmt: skip
    return build_packet_files(
        result, record, PacketOptions(service_start=date(2026, 11, 15), **options), practice=PRACTICE,
        created=CREATED, practitioner=practitioner, organization=organization, attestations=attestations,
    )  # fmt: skip


def test_attached_pdfs_are_merged_under_our_header_and_indexed() -> None:
    record = _record("lumbar-mbb-first-ready")
    patient = next(item for item in record if item["resourceType"] == "Patient")
    reference = f"Patient/{patient['id']}"
    record.append(_document("doc-pdf", reference, "application/pdf", _pdf(3), "Outside pain clinic note"))
    record.append(_document("doc-text", reference, "text/plain", b"Home exercise program since March.", "PT letter"))
    files = _files(record)
    reader = PdfReader(io.BytesIO(files.pdf))
    total = len(reader.pages)
    texts = [page.extract_text() for page in reader.pages]
    assert all(f"Page {number} of {total}" in text for number, text in enumerate(texts, start=1))
    assert all(patient["birthDate"] in text for text in texts)
    assert [i for i, text in enumerate(texts, start=1) if "Outside procedure note" in text] == [
        total - 2,
        total - 1,
        total,
    ]
    assert "Attached from the record: Outside pain clinic note" in texts[-1]
    contents = next(text for text in texts if "Contents" in text)
    assert re.search(rf"Outside pain clinic note \(2026-10-01\)\s*{total - 2}", contents)
    assert any("Home exercise program since March." in text for text in texts)
    assert "created" in files.manifest()["created"] or files.manifest()["created"] == CREATED.isoformat()


def test_attested_answers_are_manual_with_their_author() -> None:
    record = _record("lumbar-facet-no-disability-score")
    plain = _files(record)
    assert plain.packet.verdict == "needs-documentation"
    answers = {"GEN-07": {"status": "met", "note": "ODI 38 on 2026-10-02, scanned intake form"}}
    files = _files(record, answers)
    items = {item["linkId"]: item for item in files.questionnaire_response["item"][0]["item"]}
    origin = items["GEN-07"]["answer"][0]["extension"][0]
    assert origin["extension"][0]["valueCode"] == "manual"
    author = {part["url"]: part for part in origin["extension"][1]["extension"]}
    assert author["practitioner"]["valueReference"]["reference"].startswith("urn:uuid:")
    assert {
        items[key]["answer"][0]["extension"][0]["extension"][0]["valueCode"] for key in items if key != "GEN-07"
    } == {"auto"}
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(files.pdf)).pages)
    assert "ODI 38 on 2026-10-02" in text and "2026-11-18T10:00:00Z" in text


def test_claim_lines_equal_the_coding_lines_and_choices_are_checked() -> None:
    files = _files(_record("lumbar-mbb-first-ready"), service_end=date(2026, 11, 30), place_of_service="24")
    claim = files.pas_bundle["entry"][0]["resource"]
    lines = files.packet.check["coding"]["lines"]
    assert [item["productOrService"]["coding"][0]["code"] for item in claim["item"]] == [line["code"] for line in lines]
    assert [[m["coding"][0]["code"] for m in item["modifier"]] for item in claim["item"]] == [
        line["modifiers"] for line in lines
    ]
    assert [item["quantity"]["value"] for item in claim["item"]] == [line["units"] for line in lines]
    assert claim["item"][0]["servicedPeriod"] == {"start": "2026-11-15", "end": "2026-11-30"}
    with pytest.raises(PacketInputError, match="reason"):
        _files(_record("lumbar-mbb-first-ready"), urgency="expedited")
    with pytest.raises(PacketInputError, match="place of service"):
        _files(_record("lumbar-mbb-first-ready"), place_of_service="99")
    with pytest.raises(PacketInputError, match="ends before"):
        _files(_record("lumbar-mbb-first-ready"), service_end=date(2026, 11, 1))
