"""The checklist report PDF, read back with pypdf."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from smart_app.core.documents import PatientIdentity
from smart_app.render.report import render_checklist_report
from tests.orders.samples import rfa_check_result

IDENTITY = PatientIdentity("Maria Lopez", "1968-04-12", "Member ID", "1EG4-TE5-MK72")


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _long_check() -> dict[str, Any]:
    check = rfa_check_result()
    template = check["criteria"][0]
    check["criteria"] = [
        {**template, "id": f"GEN-{n:02d}", "text": f"Criterion number {n} " + "with a long wording " * 8}
        for n in range(1, 41)
    ]
    return check


def test_every_page_has_two_patient_identifiers_and_its_number() -> None:
    pages = _pages(render_checklist_report(_long_check(), IDENTITY))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "Maria Lopez · DOB 1968-04-12" in text
        assert "Maria Lopez · Member ID 1EG4-TE5-MK72" in text
        assert f"Page {number} of {len(pages)}" in text


def test_the_report_holds_criteria_evidence_clauses_coding_and_warnings() -> None:
    text = "\n".join(_pages(render_checklist_report(rfa_check_result(), IDENTITY)))
    for expected in (
        "RFA-01",
        "Procedure/ac2b610a",
        "LCD L38773 §RFA 1",
        "64635",
        "64636 (add-on)",
        "M47.816",
        "W-SAMPLE",
        "rfa-initial",
        "Facet Joint Interventions for Pain Management",
    ):
        assert expected in text, expected


def test_the_same_check_gives_the_same_bytes() -> None:
    first = render_checklist_report(rfa_check_result(), IDENTITY)
    assert first == render_checklist_report(rfa_check_result(), IDENTITY)
    changed = rfa_check_result()
    changed["criteria"][0]["status"] = "unknown"
    assert render_checklist_report(changed, IDENTITY) != first


def test_markup_in_record_text_is_printed_not_interpreted() -> None:
    check = rfa_check_result()
    check["criteria"][0]["evidence"][0]["summary"] = "<b>pain</b> & <unclosed"
    words = " ".join("\n".join(_pages(render_checklist_report(check, IDENTITY))).split())
    assert "<b>pain</b> & <unclosed" in words


def test_clauses_cite_the_public_source_not_our_research_notes() -> None:
    check = rfa_check_result()
    check["criteria"] = [
        {**criterion, "source": "policy-rules A.5 RFA-01 (S1, High)", "citation": "LCD L38773, Coverage Indications"}
        for criterion in check["criteria"]
    ]
    text = " ".join(" ".join(_pages(render_checklist_report(check, IDENTITY))).split())  # a cell wraps its lines
    assert "LCD L38773, Coverage Indications" in text
    assert "policy-rules" not in text
