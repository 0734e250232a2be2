"""The prior-authorization packet as a PDF a payer reviewer can work from.

Order: cover sheet (as MAC and plan fax covers have it), table of contents, letter of medical necessity (with
open items and the signature line), criterion → evidence index with the page of each piece of evidence, source
documents (imaging reports, prior procedures with their score tables, therapy and medication history, documents
from the record, record extracts), attestations and the clinician's signature block, then PDFs the record
attaches, merged page by page under our header.

Every page carries the patient's two identifiers and "Page x of y" (y counts merged pages too). Page numbers in
the contents and the index come from where the anchors actually landed: the document is laid out until the
numbers stop moving (two passes, rarely three). Headings keep with what follows, so nothing is stranded at a
page foot.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from smart_app.core.packet.model import Packet
from smart_app.core.packet.sources import AttachedDocument
from smart_app.render.packet_pages import (
    FOOTER_SPACE,
    HEADER_SPACE,
    MARGIN,
    Anchor,
    PageRef,
    merge_attachments,
    packet_canvas,
    page_count,
)

_MARGIN, _HEADER_SPACE, _FOOTER_SPACE = MARGIN, HEADER_SPACE, FOOTER_SPACE
_WIDTH = LETTER[0] - 2 * _MARGIN
_INDEX_ROWS = 8  # evidence rows per criterion in the index (a spanned block must fit on one page)
_STATUS = {"met": "Met", "not-met": "NOT MET", "unknown": "Open item", "not-applicable": "Does not apply"}
_BASE = getSampleStyleSheet()
_BODY = ParagraphStyle("packet-body", parent=_BASE["BodyText"], fontSize=9.5, leading=12.5, spaceAfter=4)
_SMALL = ParagraphStyle("packet-small", parent=_BODY, fontSize=8, leading=10, spaceAfter=0)
_CELL = ParagraphStyle("packet-cell", parent=_BODY, fontSize=8.5, leading=10.5, spaceAfter=0)
_TITLE = ParagraphStyle("packet-title", parent=_BASE["Title"], fontSize=15, spaceAfter=4, keepWithNext=1)
_H1 = ParagraphStyle("packet-h1", parent=_BASE["Heading1"], fontSize=13, spaceBefore=4, spaceAfter=6, keepWithNext=1)
_H2 = ParagraphStyle("packet-h2", parent=_BASE["Heading2"], fontSize=10.5, spaceBefore=8, spaceAfter=3, keepWithNext=1)
_MONO = ParagraphStyle("packet-mono", parent=_BODY, fontName="Courier", fontSize=8.5, leading=11)


def render_packet_pdf(packet: Packet) -> bytes:
    """The packet PDF (our pages, then the record's attached PDFs under our header)."""
    attachments = [(doc, page_count(doc.pdf)) for doc in packet.sources.documents if doc.pdf]
    attachments = [(doc, count) for doc, count in attachments if count]
    body, total_ours = _layout(packet, attachments)
    if not attachments:
        return body
    return merge_attachments(packet, body, attachments, total_ours)


def _layout(packet: Packet, attachments: list[tuple[AttachedDocument, int]]) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN + _HEADER_SPACE,
        bottomMargin=_MARGIN + _FOOTER_SPACE,
        title="Prior authorization request packet",
        author=packet.ordering.name or "spine-auth",
        creator="spine-auth",
        invariant=1,
    )
    counter: dict[str, int] = {}
    landed: dict[str, int] = {}
    used: set[str] = set()
    story = _story(packet, landed, used, attachments)
    document.build(story, canvasmaker=packet_canvas(packet, attachments, landed, used, counter))
    return buffer.getvalue(), counter["pages"]


# --- the story --------------------------------------------------------------------------------------------------


def _story(
    packet: Packet, landed: dict[str, int], used: set[str], attachments: list[tuple[AttachedDocument, int]]
) -> list[Any]:
    def anchor(name: str) -> Anchor:
        return Anchor(name, landed)

    def page_of(name: str) -> PageRef:
        return PageRef(name, used)

    story: list[Any] = [anchor("cover"), *_cover(packet), PageBreak()]
    sections = [
        ("letter", "Letter of medical necessity"),
        ("index", "Criteria and evidence index"),
        ("sources", "Source documents"),
        ("attestation", "Attestation and signature"),
    ]
    if attachments:
        sections.append(("attached", "Attached documents from the record"))
    story += [Paragraph("Contents", _H1)]
    rows: list[tuple[str, PageRef]] = [("Cover sheet", page_of("cover"))]
    rows += [(title, page_of(key)) for key, title in sections]
    rows += [(f"    {doc.title} ({doc.day or 'undated'})", page_of(doc.anchor)) for doc, _count in attachments]
    story.append(
        _table([[_p(escape(label)), number] for label, number in rows], [_WIDTH - 0.8 * inch, 0.8 * inch], grid=False)
    )
    story += [PageBreak(), anchor("letter"), *_letter(packet)]
    story += [CondPageBreak(2.5 * inch), anchor("index"), *_index(packet, page_of)]
    story += [PageBreak(), anchor("sources"), *_sources(packet, anchor)]
    story += [CondPageBreak(3 * inch), anchor("attestation"), *_attestation(packet)]
    return story


def _cover(packet: Packet) -> list[Any]:
    payer, options = packet.payer, packet.options
    urgency = "Expedited: " + options.urgency_reason if options.urgency == "expedited" else "Standard"
    practice = packet.requesting
    facility = packet.facility
    rows = [
        ("Payer and plan", " · ".join(part for part in (payer.name, payer.plan) if part)),
        ("Payer policy", f"{packet.policy.get('title', '')}"),
        ("Member name", packet.identity.name),
        ("Member ID", payer.member_id or "NOT IN THE RECORD (open item)"),
        ("Group", payer.group or "not recorded"),
        ("Date of birth", packet.identity.birth_date),
        ("Ordering provider", _provider(packet.ordering.name, packet.ordering.npi, "")),
        ("Rendering provider", _provider(packet.rendering.name, packet.rendering.npi, practice.tin)),
        (
            "Requesting practice",
            _provider(practice.name, practice.npi, practice.tin) + _address(practice.address.one_line()),
        ),
        ("Facility", _provider(facility.name, facility.npi, "") + _address(facility.address.one_line())),
        ("Contact", f"phone {practice.phone or 'not configured'} · fax {practice.fax or 'not configured'}"),
        ("Place of service", packet.place_of_service_words),
        ("Levels and side", f"{', '.join(packet.levels)} · {packet.side}"),
        ("Anticipated date of service", packet.service_window),
        ("Request", "Initial request" if options.submission == "initial" else "Resubmission"),
        ("Urgency", urgency),
    ]
    story: list[Any] = [
        Paragraph("Prior authorization request", _TITLE),
        _p(f"{escape(packet.procedure_words.capitalize())} · DRAFT prepared for review, not submitted", _SMALL),
        Spacer(1, 6),
        _table(
            [[_p(f"<b>{escape(label)}</b>"), _p(value)] for label, value in rows], [1.8 * inch, _WIDTH - 1.8 * inch]
        ),
        Paragraph("Requested services", _H2),
        _services(packet),
        Paragraph("Diagnoses (ICD-10-CM)", _H2),
        _table(
            [[_p("<b>Code</b>"), _p("<b>Diagnosis</b>")]]
            + [[_p(escape(code)), _p(escape(words or "see record"))] for code, words in packet.diagnoses]
            or [[_p("none"), _p("")]],
            [1.2 * inch, _WIDTH - 1.2 * inch],
        ),
    ]
    return story


def _provider(name: str, npi: str, tin: str) -> str:
    parts = [escape(name or "NOT KNOWN (open item)"), f"NPI {escape(npi) if npi else 'not recorded'}"]
    if tin:
        parts.append(f"TIN {escape(tin)}")
    return " · ".join(parts)


def _address(address: str) -> str:
    return f"<br/>{escape(address)}" if address else ""


def _services(packet: Packet) -> Table:
    header = ["CPT/HCPCS", "Modifiers", "Units", "Levels", "ICD-10-CM", "Service"]
    rows = [[_p(f"<b>{word}</b>", _CELL) for word in header]]
    for line in packet.lines:
        rows.append(
            [
                _p(escape(str(line.get("code"))) + (" (add-on)" if line.get("add_on") else ""), _CELL),
                _p(escape(", ".join(line.get("modifiers", [])) or "none"), _CELL),
                _p(escape(str(line.get("units"))), _CELL),
                _p(escape(", ".join(line.get("levels", []))), _CELL),
                _p(escape(", ".join(line.get("diagnoses", []))), _CELL),
                _p(escape(str(line.get("display", ""))), _CELL),
            ]
        )
    if len(rows) == 1:
        rows.append([_p("No CPT line was produced: nothing to request.", _CELL), "", "", "", "", ""])
    widths = [0.95 * inch, 0.85 * inch, 0.5 * inch, 1.0 * inch, 0.9 * inch, _WIDTH - 4.2 * inch]
    return _table(rows, widths, header=True)


def _letter(packet: Packet) -> list[Any]:
    letter = packet.letter
    practice = packet.requesting
    story: list[Any] = [Paragraph("Letter of medical necessity", _H1)]
    story.append(
        _p(f"{escape(packet.created.date().isoformat())}<br/>To: {escape(packet.payer.name)}, utilization management")
    )
    story.append(_p(f"Re: {escape(packet.identity.first_identifier)} · {escape(packet.identity.second_identifier)}"))
    story += [_p(escape(sentence)) for sentence in letter.opening]
    story.append(Paragraph("History and findings", _H2))
    story += [_p(escape(sentence)) for sentence in letter.history]
    story.append(Paragraph(f"Criteria of {escape(str(packet.policy.get('title', 'the policy')))}", _H2))
    story += [_p("• " + escape(sentence)) for sentence in letter.criteria]
    story.append(Paragraph("Open items", _H2))
    if letter.open_items:
        story += [_p("☐ " + escape(item)) for item in letter.open_items]
    else:
        story.append(_p("None: every criterion that applies is documented."))
    story.append(_p(escape(letter.closing)))
    signer = packet.ordering.name or "Ordering clinician"
    story.append(
        KeepTogether(
            [
                Spacer(1, 14),
                _p("Signature: ______________________________________ &nbsp; Date: ______________"),
                _p(f"{escape(signer)} · NPI {escape(packet.ordering.npi or 'not recorded')} · {escape(practice.name)}"),
            ]
        )
    )
    return story


def _index(packet: Packet, page_of: Any) -> list[Any]:
    story: list[Any] = [Paragraph("Criteria and evidence index", _H1)]
    story.append(_p("Each criterion, its status and where in this packet the evidence for it sits.", _SMALL))
    rows = [[_p(f"<b>{word}</b>", _CELL) for word in ("Criterion", "Status", "Evidence", "Page")]]
    spans: list[tuple[Any, ...]] = []
    for criterion in packet.criteria:
        shown = criterion.evidence[:_INDEX_ROWS]
        if len(criterion.evidence) > _INDEX_ROWS:  # the rest are in the source documents
            shown = criterion.evidence[: _INDEX_ROWS - 1]
        more = len(criterion.evidence) - len(shown)
        if len(shown) + (1 if more else 0) > 1:
            first, last = len(rows), len(rows) + len(shown) - (0 if more else 1)
            spans += [("SPAN", (0, first), (0, last)), ("SPAN", (1, first), (1, last))]
        status = _STATUS.get(criterion.status, criterion.status)
        if criterion.origin == "attested":
            status += " (attested)"
        cited = f"({escape(criterion.id)}; {escape(criterion.source)})"
        text = f"{escape(criterion.text)} <font size=7 color='#555555'>{cited}</font>"
        if not criterion.evidence:
            why = (
                "from the request"
                if criterion.origin == "request"
                else escape(criterion.detail) or "none in the record"
            )
            rows.append([_p(text, _CELL), _p(f"<b>{escape(status)}</b>", _CELL), _p(why, _CELL), _p("", _CELL)])
            continue
        for number, link in enumerate(shown):
            rows.append(
                [
                    _p(text if number == 0 else "", _CELL),
                    _p(f"<b>{escape(status)}</b>" if number == 0 else "", _CELL),
                    _p(escape(link.label), _CELL),
                    page_of(link.anchor),
                ]
            )
        if more:
            words = f"and {more} more of the same kind, listed in the source documents from page"
            rows.append(
                [_p("", _CELL), _p("", _CELL), _p(words, _CELL), page_of(criterion.evidence[len(shown)].anchor)]
            )
    widths = [2.6 * inch, 0.85 * inch, _WIDTH - 3.95 * inch, 0.5 * inch]
    story.append(_table(rows, widths, header=True, extra=spans))
    return story


def _sources(packet: Packet, anchor: Any) -> list[Any]:
    sources = packet.sources
    story: list[Any] = [Paragraph("Source documents", _H1)]
    story.append(Paragraph("Imaging reports", _H2))
    for report in sources.imaging:
        report_block: list[Any] = [
            anchor(report.anchor),
            _p(
                f"<b>{escape(report.title)}</b>, {escape(report.day)}"
                + (f", {escape(report.author)}" if report.author else "")
            ),
        ]
        report_block += [_p(escape(line), _MONO) for line in report.text.splitlines() if line.strip()]
        story.append(KeepTogether(report_block))
    if not sources.imaging:
        story.append(_p("No imaging report is in the record."))
    story.append(Paragraph("Prior spine procedures and pain/function scores per block", _H2))
    for procedure in sources.procedures:
        block: list[Any] = [
            anchor(procedure.anchor),
            _p(
                f"<b>{escape(procedure.day)}: {escape(procedure.intent)} {escape(procedure.kind)}</b>, "
                f"{escape(procedure.side)}, "
                f"levels {escape(', '.join(procedure.levels) or 'not recorded')}; {escape(procedure.agent)}"
            ),
            _p(
                f"Procedure note: {escape(procedure.title)}"
                + (f". {escape(procedure.note)}" if procedure.note else ""),
                _SMALL,
            ),
        ]
        if procedure.scores:
            rows = [[_p(f"<b>{word}</b>", _CELL) for word in ("When", "Scale", "Score", "Relief")]]
            rows += [
                [row.when, row.scale, row.value, row.relief]  # short plain cells: no paragraph layout needed
                for row in procedure.scores
            ]
            block.append(_table(rows, [1.5 * inch, 3.2 * inch, 0.8 * inch, _WIDTH - 5.5 * inch], header=True))
        else:
            block.append(_p("No pre- and post-procedure scores are recorded for this procedure.", _SMALL))
        block.append(Spacer(1, 4))
        story.append(KeepTogether(block))
    if not sources.procedures:
        story.append(_p("No prior facet, medial branch, ablation or pars procedure is in the record."))
    story.append(Paragraph("Physical therapy and medication history", _H2))
    care_rows = [[_p(f"<b>{word}</b>", _CELL) for word in ("Kind", "What", "From", "To")]]
    for item in sources.care:
        care_rows.append(
            [
                _Cell(
                    anchor(packet.sources.anchor(item.reference)), "Therapy" if item.kind == "therapy" else "Medication"
                ),
                item.name,
                item.start,
                "ongoing" if item.ongoing else item.end,
            ]
        )
    if len(care_rows) > 1:
        story.append(_table(care_rows, [1.0 * inch, 3.2 * inch, 1.2 * inch, _WIDTH - 5.4 * inch], header=True))
    else:
        story.append(_p("No physical therapy or analgesic medication is in the record."))
    texts = [doc for doc in sources.documents if doc.text]
    if texts:
        story.append(Paragraph("Clinical documents from the record", _H2))
        for doc in texts:
            text_block: list[Any] = [
                anchor(doc.anchor),
                _p(f"<b>{escape(doc.title)}</b>" + (f", {escape(doc.day)}" if doc.day else "")),
            ]
            text_block += [_p(escape(line), _MONO) for line in doc.text.splitlines() if line.strip()]
            story += text_block
    if sources.extracts:
        story.append(Paragraph("Other record extracts cited as evidence", _H2))
        rows = [
            [_Cell(anchor(item.anchor), escape(packet.sources.label(item.reference, item.label)))]
            for item in sources.extracts
        ]
        story.append(_table(rows, [_WIDTH], grid=False))
    return story


def _attestation(packet: Packet) -> list[Any]:
    story: list[Any] = [Paragraph("Attestation and signature", _H1)]
    if packet.attestations:
        story.append(_p("Answers attested in spine-auth (where the record did not show the criterion):"))
        rows = [[_p(f"<b>{word}</b>", _CELL) for word in ("Criterion", "Answer", "Where documented", "Who and when")]]
        for item in packet.attestations:
            rows.append(
                [
                    _p(escape(item.criterion_text), _CELL),
                    _p(escape(_STATUS.get(item.status, item.status)), _CELL),
                    _p(escape(item.note), _CELL),
                    _p(f"{escape(item.who)}<br/>{escape(item.when)}", _CELL),
                ]
            )
        story.append(_table(rows, [2.4 * inch, 0.8 * inch, 2.2 * inch, _WIDTH - 5.4 * inch], header=True))
    else:
        story.append(
            _p("No answer was attested in the app: every criterion status above comes from the record or the request.")
        )
    signer = packet.ordering.name or "the ordering clinician"
    story.append(
        KeepTogether(
            [
                Spacer(1, 8),
                _p(
                    f"I, {escape(signer)}, attest that the information in this request is accurate and complete "
                    "to the best of my knowledge, that the clinical documentation supports the medical necessity "
                    "of the requested services, and that the records cited are available on request."
                ),
                Spacer(1, 18),
                _p("Signature: ______________________________________ &nbsp; Date: ______________"),
                _p(f"{escape(signer)} · NPI {escape(packet.ordering.npi or 'not recorded')}"),
            ]
        )
    )
    return story


class _Cell(Flowable):  # type: ignore[misc]
    """A table cell holding an anchor and a paragraph (so a table row can be a target)."""

    def __init__(self, marker: Anchor, markup: str) -> None:
        super().__init__()
        self.marker = marker
        self.paragraph = _p(markup, _CELL)

    def wrap(self, width: float, height: float) -> tuple[float, float]:
        self.width, self.height = self.paragraph.wrap(width, height)
        return self.width, self.height

    def draw(self) -> None:
        self.marker.canv = self.canv
        self.marker.draw()
        self.paragraph.drawOn(self.canv, 0, 0)


# --- small helpers ----------------------------------------------------------------------------------------------


def _p(markup: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(markup, style)


def _table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = False,
    grid: bool = True,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    table = Table([list(row) for row in rows], colWidths=list(widths), repeatRows=1 if header else 0)
    style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), _CELL.fontName, _CELL.fontSize, _CELL.leading),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
    ]
    if grid:
        style.append(("GRID", (0, 0), (-1, -1), 0.4, colors.grey))
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke))
    table.setStyle(TableStyle([*style, *extra]))
    return table
