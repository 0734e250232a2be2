"""Pain and disability scores (Observation) and the relief a procedure gave, as fhir-conventions "Scores" defines.

- Baseline: the last score on the same scale in the 30 days before the procedure started (an earlier score on the
  same day counts). Scores `partOf` another procedure are never used for this one.
- Immediate relief (diagnostic blocks): the largest percentage drop in the first 12 hours after the start.
- Sustained relief (therapeutic injections, RFA): the unbroken run of scores that each show at least the threshold
  (50 %) relief; "≥ N months" needs a score at or after N months inside that run. A later procedure at the same
  site ends the series: scores after it measure that procedure, not this one.
- Relief % = (baseline − post) / baseline × 100, only between scores of the same scale; no relief from a baseline
  of 0.
A procedure recorded with a date only starts, for these windows, at the first score `partOf` it on that day
(the pre-procedure score), else at midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smart_app.core.fhir_json import (
    FhirTime,
    add_months,
    as_dict,
    as_number,
    as_str,
    codings,
    concept_text,
    first_time,
    iter_dicts,
    reference_target,
    status_code,
)
from smart_app.core.model import SYSTEM_LOINC
from smart_app.core.text_findings import compile_pattern
from smart_app.core.vocabulary import SCALES, SCORE_RANGE_TEXT, SCORE_TEXT, ScaleRule

_IGNORED_STATUS = frozenset({"entered-in-error", "cancelled", "preliminary"})
BASELINE_WINDOW = timedelta(days=30)
IMMEDIATE_WINDOW = timedelta(hours=12)
SUSTAINED_THRESHOLD = 50.0


@dataclass(frozen=True)
class Score:
    kind: str  # pain | disability
    scale: str
    value: float
    time: FhirTime
    reference: str
    part_of: tuple[str, ...] = ()

    @property
    def start(self) -> datetime:
        return self.time.start

    def describe(self) -> str:
        value = f"{self.value:g}"
        return f"{self.scale} {value} on {self.time.iso_day}"


@dataclass(frozen=True)
class ScoreFlag:
    """An Observation that looks like a score but cannot be used as one (a range, out of bounds, undated)."""

    reference: str
    reason: str


def read_score(resource: dict[str, Any], reference: str) -> Score | ScoreFlag | None:
    """A pain or disability score; a flag when it is one we cannot use; None when it is no such Observation."""
    if status_code(resource, "status") in _IGNORED_STATUS:
        return None
    rule = _scale(resource.get("code"))
    if rule is None:
        return None
    value, problem = _value(resource, rule)
    if problem:
        return ScoreFlag(reference, f"{rule.scale}: {problem}")
    time = first_time(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    if time is None:
        return ScoreFlag(reference, f"{rule.scale}: no date, so it cannot serve as a baseline or follow-up")
    if value is None:
        return None
    targets = (reference_target(item) for item in iter_dicts(resource.get("partOf")))
    part_of = tuple(target for target in targets if target)
    return Score(rule.kind, rule.scale, value, time, reference, part_of)


def _scale(concept: Any) -> ScaleRule | None:
    loinc = {coding.code for coding in codings(concept) if coding.system == SYSTEM_LOINC}
    for rule in SCALES:
        if loinc & rule.loinc:
            return rule
    text = concept_text(concept)
    for rule in SCALES:
        if rule.text and text and compile_pattern(rule.text).search(text):
            return rule
    return None


def _value(resource: dict[str, Any], rule: ScaleRule) -> tuple[float | None, str]:
    if "valueRange" in resource:
        return None, "a range is not a score"
    value = as_number(resource.get("valueInteger"))
    if value is None:
        value = as_number(as_dict(resource.get("valueQuantity")).get("value"))
    if value is None and "valueString" in resource:
        text = as_str(resource.get("valueString"))
        if re.match(SCORE_RANGE_TEXT, text):
            return None, f"{text!r} is a range, not a score"
        match = re.match(SCORE_TEXT, text)
        value = float(match.group(1)) if match else None
    if value is not None and not rule.low <= value <= rule.high:
        return None, f"{value:g} is outside {rule.low:g}-{rule.high:g}"
    return value, ""


# --- relief --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliefPoint:
    score: Score
    percent: float


@dataclass(frozen=True)
class SustainedRun:
    """The unbroken run of post-procedure scores at or above the threshold."""

    last: ReliefPoint | None  # last point of the run (None: the first follow-up already fell short)
    broken_by: ReliefPoint | None  # the first point below the threshold, when the record has one

    def lasted_months(self, start: FhirTime, months: int) -> bool:
        return self.last is not None and self.last.score.time.day >= add_months(start.day, months)


@dataclass(frozen=True)
class Relief:
    """Relief after one procedure on one scale, from its baseline and follow-up scores."""

    kind: str
    scale: str
    baseline: Score
    points: tuple[ReliefPoint, ...]
    immediate_percent: float | None

    def sustained(self, threshold: float = SUSTAINED_THRESHOLD) -> SustainedRun:
        last: ReliefPoint | None = None
        for point in self.points:
            if point.percent < threshold:
                return SustainedRun(last, point)
            last = point
        return SustainedRun(last, None)

    @property
    def references(self) -> tuple[str, ...]:
        return (self.baseline.reference, *(point.score.reference for point in self.points))

    def describe_immediate(self) -> str:
        if self.immediate_percent is None:
            return f"baseline {self.baseline.describe()}; no score within 12 h after"
        return f"baseline {self.baseline.value:g}, {self.immediate_percent:.0f}% relief within 12 h ({self.scale})"


def procedure_start(time: FhirTime, reference: str, scores: list[Score]) -> datetime:
    """When the procedure started, for the score windows (see the module docstring for date-only records)."""
    if time.has_time:
        return time.start
    same_day = [s for s in scores if reference in s.part_of and s.time.day == time.day and s.time.has_time]
    if same_day:
        return min(s.start for s in same_day) + timedelta(microseconds=1)
    return time.start


def compute_relief(
    reference: str, start: datetime, scores: list[Score], ends_at: datetime | None = None
) -> Relief | None:
    """Relief after the procedure `reference` started at `start`; `scores` are one kind, sorted by time.

    None when no baseline exists. `ends_at` is when the next procedure at the same site started.
    """
    usable = [s for s in scores if not s.part_of or reference in s.part_of]
    baselines: dict[str, Score] = {}
    for score in usable:
        if start - BASELINE_WINDOW <= score.start <= start:
            baselines[score.scale] = score  # sorted: the last one wins
    best: Relief | None = None
    for scale, baseline in baselines.items():
        relief = _relief_on_scale(baseline, start, [s for s in usable if s.scale == scale], ends_at)
        if (
            best is None
            or (relief.points and not best.points)
            or (bool(relief.points) == bool(best.points) and baseline.start > best.baseline.start)
        ):
            best = relief
    return best


def _relief_on_scale(baseline: Score, start: datetime, scores: list[Score], ends_at: datetime | None) -> Relief:
    points: list[ReliefPoint] = []
    if baseline.value > 0:
        for score in scores:
            if score.start > start and (ends_at is None or score.start < ends_at):
                points.append(ReliefPoint(score, (baseline.value - score.value) / baseline.value * 100))
    early = [p.percent for p in points if p.score.start <= start + IMMEDIATE_WINDOW]
    return Relief(baseline.kind, baseline.scale, baseline, tuple(points), max(early) if early else None)
