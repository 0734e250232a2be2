"""Page machinery of the packet PDF: the header and footer of every page (two patient identifiers, "Page x of y"),
anchors that record where evidence landed, page references drawn as PDF forms filled in when the document is saved
(so the contents and the index are laid out once), and the record's own PDFs merged under our header with pypdf.
"""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader, PdfWriter, Transformation
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from smart_app.core.packet.model import Packet
from smart_app.core.packet.sources import AttachedDocument

MARGIN = 0.6 * inch
HEADER_SPACE = 0.5 * inch
FOOTER_SPACE = 0.25 * inch
PAGE_REF_FONT = ("Helvetica", 8.5, 10.5)  # name, size, leading (the table cells' font)


class Anchor(Flowable):  # type: ignore[misc]  # reportlab ships no type hints
    """Zero-size marker that records the page it lands on."""

    def __init__(self, name: str, pages: dict[str, int]) -> None:
        super().__init__()
        self.name = name
        self.pages = pages
        self.width = self.height = 0

    def draw(self) -> None:
        self.pages.setdefault(self.name, self.canv.getPageNumber())


class PageRef(Flowable):  # type: ignore[misc]  # reportlab ships no type hints
    """The page number of an anchor, drawn as a PDF form defined when the document is saved: the contents and the
    index are laid out once, and still print where each anchor actually landed."""

    def __init__(self, name: str, used: set[str]) -> None:
        super().__init__()
        self.name = name
        used.add(name)
        self.width, self.height = 24, PAGE_REF_FONT[2]

    def draw(self) -> None:
        self.canv.doForm(form_name(self.name))


def form_name(anchor: str) -> str:
    return "page-" + anchor.replace("-", "")


def packet_canvas(
    packet: Packet,
    attachments: list[tuple[AttachedDocument, int]],
    landed: dict[str, int],
    used: set[str],
    counter: dict[str, int],
) -> type[Canvas]:
    extra_pages = sum(count for _, count in attachments)

    class PacketCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            counter["pages"] = len(self._pages)
            total = len(self._pages) + extra_pages
            pages = {**landed, **attachment_pages(attachments, len(self._pages))}
            for name in sorted(used):
                self.beginForm(form_name(name), 0, 0, 24, PAGE_REF_FONT[2])
                self.setFont(PAGE_REF_FONT[0], PAGE_REF_FONT[1])
                self.drawString(0, 2.5, str(pages.get(name, "–")))
                self.endForm()
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                decorate(self, packet, number, total)
                super().showPage()
            super().save()

    return PacketCanvas


def decorate(canvas: Canvas, packet: Packet, number: int, total: int) -> None:
    """Header (two patient identifiers, draft mark) and footer (creation time, page x of y) of one page."""
    width, height = LETTER
    top = height - MARGIN
    canvas.setFillColor(colors.black)
    canvas.setFont("Helvetica-Bold", 9)
    canvas.drawString(MARGIN, top, packet.identity.first_identifier)
    canvas.drawString(MARGIN, top - 12, packet.identity.second_identifier)
    canvas.setFont("Helvetica", 8)
    canvas.drawRightString(width - MARGIN, top, "Prior authorization request: DRAFT, not submitted")
    canvas.drawRightString(width - MARGIN, top - 12, f"{packet.payer.name} · service {packet.service_window}")
    canvas.setStrokeColor(colors.grey)
    canvas.line(MARGIN, top - 18, width - MARGIN, top - 18)
    canvas.line(MARGIN, MARGIN + 4, width - MARGIN, MARGIN + 4)
    created = packet.created.strftime("%Y-%m-%d %H:%M %Z").strip()
    canvas.drawString(
        MARGIN, MARGIN - 8, f"Created {created} by spine-auth for {packet.requesting.name or 'the practice'}"
    )
    canvas.setFont("Helvetica-Bold", 8)
    canvas.drawRightString(width - MARGIN, MARGIN - 8, f"Page {number} of {total}")


# --- merging the record's PDFs ----------------------------------------------------------------------------------


def page_count(pdf: bytes) -> int:
    try:
        return len(PdfReader(io.BytesIO(pdf)).pages)
    except Exception:  # a broken attachment is left out, never fatal
        return 0


def attachment_pages(attachments: list[tuple[AttachedDocument, int]], total_ours: int) -> dict[str, int]:
    pages: dict[str, int] = {}
    start = total_ours + 1
    for index, (doc, count) in enumerate(attachments):
        pages[doc.anchor] = start
        if index == 0:
            pages["attached"] = start
        start += count
    return pages


def merge_attachments(
    packet: Packet, body: bytes, attachments: list[tuple[AttachedDocument, int]], total_ours: int
) -> bytes:
    total = total_ours + sum(count for _, count in attachments)
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(body)).pages:
        writer.add_page(page)
    number = total_ours
    top_space = MARGIN + HEADER_SPACE
    box_width, box_height = LETTER[0] - 2 * MARGIN, LETTER[1] - top_space - MARGIN - FOOTER_SPACE - 12
    for doc, _count in attachments:
        for index, source in enumerate(PdfReader(io.BytesIO(doc.pdf)).pages, start=1):
            number += 1
            overlay = _overlay(
                packet, number, total, f"Attached from the record: {doc.title} ({doc.day or 'undated'}), page {index}"
            )
            width, height = float(source.mediabox.width), float(source.mediabox.height)
            scale = min(box_width / width, box_height / height, 1.0)
            x = MARGIN + (box_width - width * scale) / 2
            y = MARGIN + FOOTER_SPACE
            placed = writer.add_page(overlay)
            placed.merge_transformed_page(source, Transformation().scale(scale, scale).translate(x, y))
    writer.add_metadata({"/Title": "Prior authorization request packet", "/Creator": "spine-auth"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _overlay(packet: Packet, number: int, total: int, caption: str) -> Any:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    decorate(canvas, packet, number, total)
    canvas.setFont("Helvetica-Oblique", 8)
    canvas.drawString(MARGIN, LETTER[1] - MARGIN - HEADER_SPACE + 6, caption[:130])
    canvas.showPage()
    canvas.save()
    return PdfReader(io.BytesIO(buffer.getvalue())).pages[0]
