"""The letter of medical necessity, in sentences, from the criteria and the facts behind them.

Every sentence carries a date or a number from the record (onset and duration, scores with their scale, each
prior block with agent, levels, side, pre/post scores and % relief), and each criterion's sentence cites the LCD
or policy section it answers. A criterion the record does not settle is never glossed over: it is an open item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from smart_app.core.facts import PatientFacts

if TYPE_CHECKING:
    from smart_app.core.packet.sources import SourceDocuments

_PROCEDURES = {
    "medial-branch-block": "medial branch block",
    "facet-injection": "facet joint injection",
    "radiofrequency-ablation": "radiofrequency ablation of the medial branch nerves",
    "pars-injection": "pars interarticularis injection",
}
_STATUS = {"met": "is met", "not-met": "is NOT met", "not-applicable": "does not apply to this request"}


@dataclass(frozen=True)
class Letter:
    """Paragraphs of plain text (no markup); `criteria` holds one sentence per criterion that was evaluated."""

    opening: tuple[str, ...]
    history: tuple[str, ...]
    criteria: tuple[str, ...]
    open_items: tuple[str, ...]
    closing: str


def write_letter(
    check_result: Mapping[str, Any],
    facts: PatientFacts,
    sources: SourceDocuments,
    open_items: Sequence[str],
    *,
    patient_name: str,
    service_window: str,
) -> Letter:
    request = check_result.get("request", {})
    as_of = date.fromisoformat(str(check_result["as_of"]))
    procedure = _PROCEDURES.get(str(request.get("procedure")), str(request.get("procedure")))
    intent = str(request.get("intent") or "")
    levels = ", ".join(str(level) for level in request.get("levels", []))
    side = str(request.get("side", ""))
    lines = check_result.get("coding", {}).get("lines", [])
    codes = "; ".join(
        f"CPT {line['code']}"
        + (f"-{'-'.join(line.get('modifiers', []))}" if line.get("modifiers") else "")
        + f" × {line.get('units', 1)}"
        for line in lines
    )
    opening = [
        f"I am requesting prior authorization of a {side} {intent + ' ' if intent and intent != 'therapeutic' else ''}"
        f"{procedure} at {levels} for {patient_name}, planned for {service_window}" + (f" ({codes})." if codes else ".")
    ]
    age = facts.age_on(as_of)
    diagnoses = _diagnosis_sentences(check_result, facts, as_of)
    if age is not None:
        opening.append(f"The patient is {age} years old on {as_of.isoformat()}.")
    history = [*diagnoses, *_score_sentences(facts), *_care_sentences(sources), *_imaging_sentences(sources)]
    history += _procedure_sentences(sources)
    criteria = [
        _criterion_sentence(item) for item in check_result.get("criteria", []) if item.get("status") != "not-applicable"
    ]
    policy = check_result.get("policy", {})
    citation = str(policy.get("citation") or policy.get("title") or "the payer's policy")
    verdict = str(check_result.get("verdict"))
    if verdict == "ready" and not any("NOT met" in item or "not shown" in item for item in open_items):
        closing = (
            f"The record documents every criterion of {citation} that applies to this request; "
            f"the {procedure} is medically necessary and I ask that it be authorized."
        )
    elif verdict == "not-eligible":
        closing = (
            f"The record shows at least one criterion of {citation} NOT met (listed above); "
            "this packet documents the request as it stands and should not be submitted until that is resolved."
        )
    else:
        closing = (
            f"The criteria of {citation} the record settles are documented above; the open items listed below "
            "must be documented before the request is complete."
        )
    return Letter(tuple(opening), tuple(history), tuple(criteria), tuple(open_items), closing)


def _diagnosis_sentences(check_result: Mapping[str, Any], facts: PatientFacts, as_of: date) -> list[str]:
    wanted = {
        str(code) for line in check_result.get("coding", {}).get("lines", []) for code in line.get("diagnoses", [])
    }
    sentences = []
    for diagnosis in facts.diagnoses:
        if diagnosis.code not in wanted or not diagnosis.active:
            continue
        sentence = f"The patient has {diagnosis.display or 'a diagnosis'} (ICD-10-CM {diagnosis.code})"
        if diagnosis.onset:
            onset = date.fromisoformat(diagnosis.onset[:10])
            months = (as_of.year - onset.year) * 12 + as_of.month - onset.month - (as_of.day < onset.day)
            sentence += f", with pain since {onset.isoformat()}: {months} months by {as_of.isoformat()}"
        sentences.append(sentence + ".")
        wanted.discard(diagnosis.code)
    return sentences


def _score_sentences(facts: PatientFacts) -> list[str]:
    sentences = []
    baseline = [score for score in facts.pain_scores if score.reference not in facts.post_procedure_scores]
    if baseline:
        latest = max(baseline, key=lambda score: score.start)
        sentences.append(
            f"The most recent baseline pain score is {latest.value:g} on the {latest.scale} scale, "
            f"recorded on {latest.time.iso_day}."
        )
    disability = [score for score in facts.disability_scores if score.reference not in facts.post_procedure_scores]
    if disability:
        latest = max(disability, key=lambda score: score.start)
        sentences.append(f"Function at baseline: {latest.scale} {latest.value:g}, recorded on {latest.time.iso_day}.")
    else:
        sentences.append("No baseline disability score (e.g. Oswestry Disability Index) is in the record.")
    return sentences


def _care_sentences(sources: SourceDocuments) -> list[str]:
    sentences = []
    therapy = sources.therapy
    if therapy:
        first, last = min(item.start for item in therapy), max(item.end for item in therapy)
        weeks = (date.fromisoformat(last) - date.fromisoformat(first)).days // 7
        sentences.append(
            f"Conservative care: {len(therapy)} physical therapy session(s) from {first} to {last} "
            f"(about {weeks} weeks)."
        )
    for medication in sources.medications:
        days = (date.fromisoformat(medication.end) - date.fromisoformat(medication.start)).days
        if medication.ongoing:
            span = f"since {medication.start} (ongoing)"
        elif days:
            span = f"from {medication.start} to {medication.end} ({days} days)"
        else:
            span = f"prescribed on {medication.start}"
        sentences.append(f"Medication: {medication.name} {span}.")
    if not therapy and not sources.medications:
        sentences.append("The record holds no physical therapy or analgesic medication history.")
    return sentences


def _imaging_sentences(sources: SourceDocuments) -> list[str]:
    return [
        f"{item.title} on {item.day}{' (read by ' + item.author + ')' if item.author else ''}: "
        f"{item.text.splitlines()[0]}" + ("" if item.text.rstrip().endswith(".") else ".")
        for item in sources.imaging
    ]


def _procedure_sentences(sources: SourceDocuments) -> list[str]:
    sentences = []
    for item in sources.procedures:
        levels = ", ".join(item.levels) or "levels not recorded"
        sentence = f"On {item.day}, {item.intent} {item.kind}, {item.side}, at {levels} ({item.agent})"
        baseline = next((row for row in item.scores if row.relief == "baseline"), None)
        after = [
            row
            for row in item.scores
            if row.relief not in ("", "baseline") and row.scale == (baseline.scale if baseline else "")
        ]
        if baseline and after:
            best = max(after, key=lambda row: float(row.relief.rstrip("%")))
            sentence += (
                f": pain {baseline.value} before and {best.value} after on the same scale ({baseline.scale}), "
                f"{best.relief} relief"
            )
            if item.duration:
                sentence += f", sustained for {item.duration}"
        else:
            sentence += ": no pre- and post-procedure scores on one scale are recorded"
        sentences.append(sentence + ".")
    return sentences


def _criterion_sentence(item: Mapping[str, Any]) -> str:
    status = str(item.get("status"))
    source = str(item.get("citation") or item.get("source") or "")
    words = _STATUS.get(status, "is not shown by the record (open item)")
    attested = " (attested by the clinician)" if item.get("origin") == "attested" else ""
    detail = str(item.get("detail") or "").rstrip(".")
    sentence = f"{item.get('text')} {words}{attested}"
    if detail:
        sentence += f": {detail}"
    return sentence + (f". [{source}]" if source else ".")
