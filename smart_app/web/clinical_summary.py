"""The clinical summary a clinician sees first after a launch, as data for `patient.html` (issue 9, part 5).

Everything comes from `core.facts.PatientFacts` (the same reading the checklist uses): spine diagnoses with onset,
a timeline of prior blocks and ablations with side, levels and relief, the pain scores over time with the
procedures marked (the chart's data, drawn in the browser by Chart.js), imaging findings, conservative care, and
the next step the record supports (`workflow.check.suggestion_for`) with the checklist link pre-filled from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from smart_app.core.care import CareEvent
from smart_app.core.facts import PatientFacts
from smart_app.core.imaging import ImagingFinding
from smart_app.core.model import Diagnosis
from smart_app.core.procedures import SpineProcedure
from smart_app.core.scores import Relief, Score
from smart_app.core.suggestion import Suggestion

SPINE_CATEGORIES = frozenset({"axial", "pars", "radicular", "claudication", "non-facet"})
PROCEDURE_NAMES = {
    "mbb": "Medial branch block",
    "intra-articular": "Intra-articular facet injection",
    "facet-injection": "Facet injection",
    "rfa": "Radiofrequency ablation",
    "pars": "Pars injection",
}
FINDING_NAMES = {
    "pars-defect": "Pars defect (spondylolysis)",
    "spondylolisthesis": "Spondylolisthesis",
    "isthmic-edema": "Isthmic marrow edema",
}
STEP_NAMES = {
    "first-diagnostic": "First diagnostic medial branch block",
    "confirmatory": "Confirmatory (second) diagnostic block",
    "rfa-initial": "Radiofrequency ablation",
    "rfa-repeat": "Repeat radiofrequency ablation",
    "therapeutic": "Therapeutic intra-articular facet injection",
    "pars": "Pars interarticularis injection",
}
CARE_NAMES = {"therapy": "Therapy", "analgesic": "Analgesic"}


@dataclass(frozen=True)
class ClinicalSummary:
    diagnoses: list[dict[str, Any]]
    procedures: list[dict[str, Any]]
    chart: dict[str, Any]
    imaging: list[dict[str, Any]]
    care: list[dict[str, Any]]
    suggestion: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "diagnoses": self.diagnoses,
            "procedures": self.procedures,
            "painChart": self.chart,
            "imaging": self.imaging,
            "conservativeCare": self.care,
            "suggestion": self.suggestion,
        }


def build_summary(facts: PatientFacts, suggestion: Suggestion | None, *, as_of: date) -> ClinicalSummary:
    procedures = sorted(facts.procedures, key=lambda p: p.time.start.isoformat() if p.time else "")
    return ClinicalSummary(
        diagnoses=[_diagnosis(d) for d in _spine_diagnoses(facts.diagnoses)],
        procedures=[_procedure(p) for p in procedures],
        chart=pain_chart(facts.pain_scores, procedures),
        imaging=[_finding(f) for f in sorted(facts.imaging_findings, key=_finding_day) if f.present],
        care=conservative_care(facts.conservative_care, as_of),
        suggestion=_suggestion(suggestion),
    )


def checklist_prefill(suggestion: Suggestion | None) -> str:
    """The checklist form's query for the suggested request ('' without one: the form keeps its defaults)."""
    if suggestion is None:
        return ""
    fields: list[tuple[str, str]] = [("procedure", suggestion.procedure)]
    if suggestion.intent:
        fields.append(("intent", suggestion.intent))
    if suggestion.levels:
        fields.append(("levels", ",".join(suggestion.levels)))
    fields += [("side", suggestion.side), ("suggested", "1")]
    return urlencode(fields)


# --- the parts ---------------------------------------------------------------------------------------------------


def _spine_diagnoses(diagnoses: Iterable[Diagnosis]) -> list[Diagnosis]:
    """Spine diagnoses (by category or a spinal region), one per code, active first then by onset."""
    seen: dict[str, Diagnosis] = {}
    for diagnosis in diagnoses:
        if diagnosis.category in SPINE_CATEGORIES or diagnosis.region or diagnosis.regions:
            seen.setdefault(diagnosis.code, diagnosis)
    return sorted(seen.values(), key=lambda d: (not d.active, d.onset or "9999"))


def _diagnosis(diagnosis: Diagnosis) -> dict[str, Any]:
    return {
        "code": diagnosis.code,
        "display": diagnosis.display or diagnosis.code,
        "onset": diagnosis.onset,
        "active": diagnosis.active,
        "levels": list(diagnosis.levels),
        "references": list(diagnosis.references),
    }


def _procedure(procedure: SpineProcedure) -> dict[str, Any]:
    return {
        "reference": procedure.reference,
        "date": procedure.day_text,
        "name": PROCEDURE_NAMES.get(procedure.kind, procedure.kind),
        "kind": procedure.kind,
        "intent": procedure.intent or "",
        "side": procedure.side or "side not recorded",
        "levels": ", ".join(procedure.levels) or "levels not recorded",
        "relief": describe_relief(procedure.pain_relief),
        "function": describe_relief(procedure.function_relief),
    }


def describe_relief(relief: Relief | None) -> str:
    """'85 % within 12 h; ≥ 50 % for 7 months (NRS, baseline 8)' or why it cannot be said."""
    if relief is None:
        return "not measured (no baseline score)"
    parts = []
    if relief.immediate_percent is not None:
        parts.append(f"{relief.immediate_percent:.0f} % within 12 h")
    lasting = relief.sustained()
    if lasting.last is not None and relief.points:
        first_day = relief.points[0].score.time.day
        months = max(0, round((lasting.last.score.time.day - first_day).days / 30.4))
        if months >= 1:
            parts.append(f"≥ 50 % for about {months} month{'s' if months != 1 else ''}")
    if not parts:
        best = max((point.percent for point in relief.points), default=None)
        parts.append(f"best {best:.0f} %" if best is not None else "no follow-up score")
    scale = relief.scale.split(" (")[0]  # "NRS 0-10 (LOINC 72514-3)" → "NRS 0-10"
    return f"{'; '.join(parts)} ({scale}, baseline {relief.baseline.value:g})"


def pain_chart(scores: Sequence[Score], procedures: Sequence[SpineProcedure]) -> dict[str, Any]:
    """Pain scores per scale and the procedures to mark, dated by day (the browser draws them)."""
    series: dict[str, list[dict[str, Any]]] = {}
    for score in sorted(scores, key=lambda s: s.start):
        series.setdefault(score.scale.split(" (")[0], []).append(
            {"date": score.start.isoformat(), "value": score.value, "reference": score.reference}
        )
    marks = [
        {
            "date": p.time.start.isoformat(),
            "label": f"{PROCEDURE_NAMES.get(p.kind, p.kind)} {p.side or ''} {', '.join(p.levels)}".replace("  ", " "),
            "kind": p.kind,
        }
        for p in procedures
        if p.time
    ]
    return {"series": [{"scale": scale, "points": points} for scale, points in series.items()], "procedures": marks}


def _finding_day(finding: ImagingFinding) -> str:
    return finding.day.isoformat() if finding.day else ""


def _finding(finding: ImagingFinding) -> dict[str, Any]:
    where = ", ".join(finding.joints or finding.vertebrae)
    return {
        "name": FINDING_NAMES.get(finding.finding, finding.finding.replace("-", " ").capitalize()),
        "where": where,
        "side": finding.side or "",
        "grade": finding.grade,
        "date": finding.day.isoformat() if finding.day else "undated",
        "modalities": ", ".join(finding.modalities),
        "snippet": finding.snippet,
        "reference": finding.reference,
    }


def conservative_care(events: Sequence[CareEvent], as_of: date) -> list[dict[str, Any]]:
    """One line per treatment (weekly therapy sessions are one course): from, to, how long, how many records."""
    courses: dict[tuple[str, str], list[CareEvent]] = {}
    for event in sorted(events, key=lambda e: e.start):
        courses.setdefault((event.kind, event.name.lower()), []).append(event)
    lines = []
    for (kind, _), course in courses.items():
        start = course[0].start
        ongoing = any(event.ongoing for event in course)
        end = as_of if ongoing else max(event.end for event in course)
        lines.append(
            {
                "kind": CARE_NAMES.get(kind, kind),
                "name": course[0].name,
                "start": start.isoformat(),
                "end": "ongoing" if ongoing else end.isoformat(),
                "weeks": max(0, (end - start).days // 7),
                "count": len(course),
                "references": [event.reference for event in course],
            }
        )
    return lines


def _suggestion(suggestion: Suggestion | None) -> dict[str, Any] | None:
    if suggestion is None:
        return None
    return {
        **suggestion.to_json(),
        "title": STEP_NAMES.get(suggestion.step, suggestion.step),
        "where": f"{suggestion.side} {', '.join(suggestion.levels) or '(levels to choose)'}",
    }
