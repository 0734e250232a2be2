"""Tolerant readers of raw FHIR JSON: every accessor gives a safe default for a missing or wrong-typed field.

Real records are messy (`../shared/contracts/fhir-conventions.md`): arrays arrive as single objects, numbers as
strings, dates as `2025` or `2025-03`. Nothing here raises on odd input; the fact extractor builds on these.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from smart_app.core.model import SYSTEM_CPT, SYSTEM_CPT_OID, SYSTEM_ICD10

ICD10_SYSTEMS = frozenset({SYSTEM_ICD10, "urn:oid:2.16.840.1.113883.6.90"})
CPT_SYSTEMS = frozenset({SYSTEM_CPT, SYSTEM_CPT_OID})
_MAX_ATTACHMENT_BYTES = 200_000  # a note longer than this is read only in part


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A FHIR array; a lone object where an array belongs is read as a one-item array."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def as_str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def as_number(value: Any) -> float | None:
    """A JSON number (not a bool); numeric strings are accepted because some servers send them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


def codings(concept: Any) -> list[Coding]:
    """The codings of a CodeableConcept (or of a bare Coding, which some records use instead)."""
    concept = as_dict(concept)
    raw = as_list(concept.get("coding")) if "coding" in concept else [concept]
    found = []
    for item in raw:
        item = as_dict(item)
        code = as_str(item.get("code"))
        display = as_str(item.get("display"))
        if code or display:
            found.append(Coding(as_str(item.get("system")), code, display))
    return found


def concept_text(concept: Any) -> str:
    """Every human-readable word of a CodeableConcept: its text and its codings' displays."""
    concept = as_dict(concept)
    parts = [as_str(concept.get("text"))] + [coding.display for coding in codings(concept)]
    return " ; ".join(part for part in parts if part)


def concepts_text(concepts: Any) -> str:
    return " ; ".join(text for text in (concept_text(item) for item in as_list(concepts)) if text)


def coded(concept: Any, systems: frozenset[str]) -> list[str]:
    return [coding.code for coding in codings(concept) if coding.system in systems and coding.code]


def cpt_codes(concept: Any) -> list[str]:
    return [code.upper() for code in coded(concept, CPT_SYSTEMS)]


def has_code(concepts: Any, system: str, codes: frozenset[str]) -> bool:
    return any(coding.system == system and coding.code in codes for c in as_list(concepts) for coding in codings(c))


def status_code(resource: dict[str, Any], key: str) -> str:
    """A status that is either a plain code (`status`) or a CodeableConcept (`clinicalStatus`)."""
    value = resource.get(key)
    if isinstance(value, str):
        return value.strip().lower()
    for coding in codings(value):
        if coding.code:
            return coding.code.lower()
    return as_str(as_dict(value).get("text")).lower()


def reference_target(value: Any) -> str:
    """`{"reference": "Procedure/1"}` → `Procedure/1`; absolute URLs keep their last two segments."""
    reference = as_str(as_dict(value).get("reference"))
    if reference.startswith(("http://", "https://")):
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2 and "_history" not in parts[-2:]:
            return f"{parts[-2]}/{parts[-1]}"
        if "_history" in parts:
            index = parts.index("_history")
            return f"{parts[index - 2]}/{parts[index - 1]}" if index >= 2 else reference
    return reference


def normalise_icd10(code: str) -> str:
    """`m47816` / `M47.816` / `M47 816` → `M47.816`; the dot always follows the third character."""
    compact = re.sub(r"[\s.]", "", code).upper()
    if len(compact) <= 3:
        return compact
    return f"{compact[:3]}.{compact[3:]}"


def icd10_codes(concept: Any) -> list[str]:
    return [normalise_icd10(code) for code in coded(concept, ICD10_SYSTEMS)]


# --- dates ---------------------------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)


@dataclass(frozen=True, order=True)
class FhirTime:
    """A FHIR date or dateTime, partial or not. `start` orders events (UTC); `day` and `last_day` are the first
    and last calendar days the value allows in its own time zone (`2025-03` → 1 and 31 March)."""

    start: datetime
    day: date
    last_day: date
    has_time: bool

    @property
    def iso_day(self) -> str:
        return self.day.isoformat()


def parse_fhir_time(value: Any) -> FhirTime | None:
    """Parse a FHIR date/dateTime/instant; None for anything that is not one (never raises)."""
    text = as_str(value)
    match = _DATE_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        y = int(year)
        if month is None:
            first, last = date(y, 1, 1), date(y, 12, 31)
        elif day is None:
            m = int(month)
            first, last = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        else:
            first = last = date(y, int(month), int(day))
        tz = _zone(zone)
        if hour is not None:
            local = datetime(first.year, first.month, first.day, int(hour), int(minute), int(second or 0), tzinfo=tz)
            return FhirTime(local.astimezone(UTC), first, last, True)
    except (ValueError, OverflowError):
        return None
    return FhirTime(datetime(first.year, first.month, first.day, tzinfo=UTC), first, last, False)


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError("bad zone")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def first_time(resource: dict[str, Any], *keys: str) -> FhirTime | None:
    """The first parseable of several date fields; `xPeriod` keys read their `start`."""
    for key in keys:
        value = resource.get(key)
        if key.endswith("Period"):
            value = as_dict(value).get("start")
        parsed = parse_fhir_time(value)
        if parsed is not None:
            return parsed
    return None


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day (31 Aug + 6 months → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if year < 1:
        return date.min
    if year > 9999:
        return date.max
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def utc_start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- text ----------------------------------------------------------------------------------------------------


def attachment_text(attachment: Any) -> str:
    """Plain text of an Attachment (inline base64 `data` of a text/* type); other content is not read."""
    attachment = as_dict(attachment)
    content_type = as_str(attachment.get("contentType")).lower()
    data = attachment.get("data")
    if not isinstance(data, str) or (content_type and not content_type.startswith("text/")):
        return ""
    try:
        raw = base64.b64decode(data[: _MAX_ATTACHMENT_BYTES * 4 // 3 + 4], validate=False)
    except (binascii.Error, ValueError):
        return ""
    text = raw.decode("utf-8", errors="replace")
    if "html" in content_type:
        text = re.sub(r"<[^>]+>", " ", text)
    return text


def notes_text(resource: dict[str, Any]) -> str:
    return " ; ".join(as_str(as_dict(note).get("text")) for note in as_list(resource.get("note"))).strip(" ;")


def iter_dicts(values: Any) -> Iterator[dict[str, Any]]:
    for value in as_list(values):
        if isinstance(value, dict):
            yield value
