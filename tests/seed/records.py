"""Small readers over the seed bundles, written for the tests independently of the app's fact extractor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from smart_app.sandbox.seed.timeline import ANCHOR_DATE

PAIN_NRS = "72514-3"
ODI = "97909-6"
DIAGNOSTIC = "103693007"
THERAPEUTIC = "277132007"
ANCHOR = datetime(ANCHOR_DATE.year, ANCHOR_DATE.month, ANCHOR_DATE.day, 23, 59).astimezone()


def resources(bundle: dict[str, Any], resource_type: str | None = None) -> list[dict[str, Any]]:
    found = [entry["resource"] for entry in bundle["entry"]]
    return [r for r in found if resource_type is None or r["resourceType"] == resource_type]


def references(node: Any) -> Iterator[str]:
    """Every `reference` value anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def when(value: str) -> datetime:
    """A FHIR date or dateTime as an aware datetime (partial dates: the earliest instant they allow)."""
    if "T" in value:
        return datetime.fromisoformat(value)
    parts = [int(part) for part in value.split("-")] + [1, 1]
    return datetime(parts[0], parts[1], parts[2]).astimezone()


def earliest_onset(bundle: dict[str, Any]) -> date:
    onsets = []
    for condition in resources(bundle, "Condition"):
        status = condition["verificationStatus"]["coding"][0]["code"]
        if status in ("refuted", "entered-in-error"):
            continue
        value = condition.get("onsetDateTime") or condition.get("onsetPeriod", {}).get("start")
        if value:
            onsets.append(when(value).date())
    return min(onsets)


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])}


def numeric_scores(bundle: dict[str, Any], loinc: str = PAIN_NRS) -> list[tuple[datetime, float]]:
    scores = []
    for observation in resources(bundle, "Observation"):
        if observation["status"] != "final" or ("http://loinc.org", loinc) not in codes(observation["code"]):
            continue
        value = observation.get("valueQuantity", {}).get("value", observation.get("valueInteger"))
        if value is not None:
            moment = observation.get("effectiveDateTime") or observation["effectivePeriod"]["start"]
            scores.append((when(moment), float(value)))
    return sorted(scores)


def facet_procedures(bundle: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return sorted(
        (
            p
            for p in resources(bundle, "Procedure")
            if p["status"] == "completed" and ("http://snomed.info/sct", category) in codes(p.get("category", {}))
        ),
        key=lambda p: p["performedDateTime"],
    )


def is_ablation(procedure: dict[str, Any]) -> bool:
    return "radiofrequency ablation" in procedure["code"]["text"]


def levels_in(text: str) -> set[str]:
    return set(re.findall(r"\b([CTL]\d{1,2}-(?:[CTL]\d{1,2}|S1))\b", text))


def baseline_before(scores: list[tuple[datetime, float]], start: datetime) -> float | None:
    window = [value for moment, value in scores if start - timedelta(days=30) <= moment < start]
    return window[-1] if window else None


def immediate_relief(bundle: dict[str, Any], procedure: dict[str, Any]) -> float:
    """Largest percentage drop from the baseline in the 12 hours after the block."""
    scores = numeric_scores(bundle)
    start = when(procedure["performedDateTime"])
    baseline = baseline_before(scores, start)
    assert baseline, f"no baseline pain score before {procedure['code']['text']}"
    after = [value for moment, value in scores if start < moment <= start + timedelta(hours=12)]
    assert after, f"no pain score in the 12 hours after {procedure['code']['text']}"
    return max((baseline - value) / baseline * 100 for value in after)


def sustained_relief_days(bundle: dict[str, Any], procedure: dict[str, Any]) -> int:
    """Days from the procedure to the last score of the unbroken run of scores with at least 50 % relief."""
    scores = numeric_scores(bundle)
    start = when(procedure["performedDateTime"])
    baseline = baseline_before(scores, start)
    assert baseline
    last = start
    for moment, value in scores:
        if moment <= start:
            continue
        if (baseline - value) / baseline * 100 < 50:
            break
        last = moment
    return (last - start).days
