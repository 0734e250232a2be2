"""The checklist report as a PDF: criteria, status, evidence, policy clauses, coding and warnings.

Prior-auth reviewers reject pages they cannot tie to a patient, so every page carries two patient identifiers
(name + date of birth, name + member id or MRN) in its header and "Page n of N" in its footer. The output is
byte-for-byte deterministic for the same input (reportlab's invariant mode, no clock), so saving the same order
twice finds the attachment unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from smart_app.core.documents import PatientIdentity

_MARGIN = 0.6 * inch
_HEADER_SPACE = 0.55 * inch
_STATUS_WORDS = {"met": "Met", "not-met": "NOT MET", "unknown": "Unknown", "not-applicable": "n/a"}
_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=8.5, leading=10.5)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=9)
_HEADING = ParagraphStyle("heading", parent=_STYLES["Heading2"], fontSize=11.5, spaceBefore=8, spaceAfter=4)
_TITLE = ParagraphStyle("title", parent=_STYLES["Title"], fontSize=15, spaceAfter=2)


def render_checklist_report(check_result: Mapping[str, Any], identity: PatientIdentity, clinician: str = "") -> bytes:
    """The report for one check result, as PDF bytes. `clinician`: who ran it, by name and NPI (never a URL)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN + _HEADER_SPACE,
        bottomMargin=_MARGIN,
        title="Spine injection checklist report",
        author="spine-auth",
        creator="spine-auth",
        invariant=1,
    )
    canvas_class = _numbered_canvas(identity, str(check_result.get("as_of", "")))
    story = _story(check_result)
    if clinician:
        story.insert(1, _para(f"Clinician: <b>{_text(clinician)}</b>"))
    document.build(story, canvasmaker=canvas_class)
    return buffer.getvalue()


def _numbered_canvas(identity: PatientIdentity, as_of: str) -> type[Canvas]:
    """A canvas that holds every page back until the end so each can say "Page n of N"."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            width, height = self._pagesize
            top = height - _MARGIN
            self.setFont("Helvetica-Bold", 9)
            self.drawString(_MARGIN, top, identity.first_identifier)
            self.drawString(_MARGIN, top - 12, identity.second_identifier)
            self.setFont("Helvetica", 8)
            self.drawRightString(width - _MARGIN, top, "Draft: not submitted")
            self.drawRightString(width - _MARGIN, top - 12, f"Session {as_of}")
            self.setStrokeColor(colors.grey)
            self.line(_MARGIN, top - 18, width - _MARGIN, top - 18)
            self.drawString(_MARGIN, _MARGIN - 14, "spine-auth checklist report")
            self.drawRightString(width - _MARGIN, _MARGIN - 14, f"Page {number} of {total}")

    return NumberedCanvas


def _story(result: Mapping[str, Any]) -> list[Any]:
    request = result.get("request", {})
    policy = result.get("policy", {})
    story: list[Any] = [
        Paragraph("Spine injection candidacy and prior-authorization checklist", _TITLE),
        _para(f"Verdict: <b>{_text(result.get('verdict'))}</b> &nbsp; Pathway: <b>{_text(result.get('pathway'))}</b>"),
        _para(
            f"Policy: {_text(policy.get('title'))} ({_text(policy.get('id'))}, version {_text(policy.get('version'))})"
        ),
    ]
    if policy.get("citation"):
        story.append(_para(f"Citation: {_text(policy['citation'])}", _SMALL))
    story += [Paragraph("Request", _HEADING), _key_values(_request_rows(request, result))]
    story += [Paragraph("Criteria", _HEADING), _criteria_table(result.get("criteria", []))]
    coding = result.get("coding", {})
    story += [Paragraph("Coding", _HEADING), _coding_table(coding.get("lines", []))]
    for alternative in coding.get("alternatives", []):
        story.append(_para(f"Alternative: {_text(_describe(alternative))}", _SMALL))
    warnings = [*coding.get("warnings", []), *result.get("warnings", [])]
    if warnings:
        story.append(Paragraph("Warnings", _HEADING))
        for warning in warnings:
            cited = warning.get("citation") or warning.get("source")
            source = f" <i>({_text(cited)})</i>" if cited else ""
            story.append(_para(f"<b>{_text(warning.get('code'))}</b>: {_text(warning.get('message'))}{source}"))
    outlook = result.get("outlook")
    if outlook:
        story.append(Paragraph("Expected outcome", _HEADING))
        story.append(_para(_text(_describe(outlook))))
    skipped = result.get("skipped_resources", [])
    if skipped:
        story.append(Paragraph("Records that could not be read", _HEADING))
        for item in skipped:
            story.append(_para(f"{_text(item.get('reference'))}: {_text(item.get('reason'))}", _SMALL))
    story.append(Spacer(1, 8))
    story.append(_para("Generated by spine-auth from the patient's record. A draft for clinician review.", _SMALL))
    return story


def _request_rows(request: Mapping[str, Any], result: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Procedure", request.get("procedure")),
        ("Intent", request.get("intent")),
        ("Region", request.get("region")),
        ("Levels", ", ".join(request.get("levels", []))),
        ("Side", request.get("side")),
        ("Guidance", request.get("guidance")),
        ("Sedation", request.get("sedation")),
        ("Technique", request.get("technique")),
        ("Setting", request.get("setting")),
        ("Payer", request.get("payer")),
        ("Planned session", result.get("as_of")),
    ]
    return [(label, str(value)) for label, value in rows if value]


def _key_values(rows: Sequence[tuple[str, str]]) -> Table:
    table = Table(
        [[_para(f"<b>{label}</b>"), _para(_text(value))] for label, value in rows], colWidths=[1.4 * inch, None]
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _criteria_table(criteria: Sequence[Mapping[str, Any]]) -> Table:
    header = [_para(f"<b>{word}</b>") for word in ("ID", "Criterion", "Status", "Evidence", "Policy clause")]
    rows = [header]
    for criterion in criteria:
        status = _STATUS_WORDS.get(str(criterion.get("status")), str(criterion.get("status")))
        if criterion.get("origin") == "attested":
            status += " (attested)"
        evidence = "<br/>".join(
            _text(item.get("reference")) + (f": {_text(item['summary'])}" if item.get("summary") else "")
            for item in criterion.get("evidence", [])
        )
        text = _text(criterion.get("text"))
        if criterion.get("detail"):
            text += f"<br/><i>{_text(criterion['detail'])}</i>"
        rows.append(
            [
                _para(_text(criterion.get("id")), _SMALL),
                _para(text, _SMALL),
                _para(f"<b>{_text(status)}</b>", _SMALL),
                _para(evidence or "none found", _SMALL),
                _para(_text(criterion.get("citation") or criterion.get("source")), _SMALL),  # the public source
            ]
        )
    widths = [0.6 * inch, 2.4 * inch, 0.8 * inch, 2.0 * inch, 1.5 * inch]
    return _grid(rows, widths)


def _coding_table(lines: Sequence[Mapping[str, Any]]) -> Table:
    header = [_para(f"<b>{word}</b>") for word in ("CPT", "Description", "Modifiers", "Units", "Levels", "ICD-10-CM")]
    rows = [header]
    for line in lines:
        rows.append(
            [
                _para(_text(line.get("code")) + (" (add-on)" if line.get("add_on") else ""), _SMALL),
                _para(_text(line.get("display")), _SMALL),
                _para(_text(", ".join(line.get("modifiers", []))), _SMALL),
                _para(_text(line.get("units")), _SMALL),
                _para(_text(", ".join(line.get("levels", []))), _SMALL),
                _para(_text(", ".join(line.get("diagnoses", []))), _SMALL),
            ]
        )
    if len(rows) == 1:
        rows.append([_para("No CPT line was produced.", _SMALL), "", "", "", "", ""])
    widths = [0.9 * inch, 2.5 * inch, 0.9 * inch, 0.5 * inch, 1.2 * inch, 1.3 * inch]
    return _grid(rows, widths)


def _grid(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_describe(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_describe(item) for item in value)
    return str(value)


def _para(markup: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(markup, style)


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))
