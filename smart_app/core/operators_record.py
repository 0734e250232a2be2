"""Operators that read diagnoses, scores, conservative care, exclusions, the request and session counts (see
`core.operators` for the rules every operator keeps)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any

from smart_app.core.facts import PatientFacts
from smart_app.core.fhir_json import add_months
from smart_app.core.model import Diagnosis, Evidence
from smart_app.core.operators_base import MET, NOT_MET, UNKNOWN, Context, Outcome, register
from smart_app.core.procedures import SpineProcedure
from smart_app.core.vocabulary import FACET_INJECTION_CPT

# --- diagnoses and scores ------------------------------------------------------------------------------------


@register(
    "an active, confirmed diagnosis of one of the categories for the requested region",
    categories="diagnosis categories (core.model.DiagnosisCategory)",
    same_region="optional: the diagnosis must name the requested region (default true)",
)
def diagnosis_present(context: Context, params: Mapping[str, Any]) -> Outcome:
    found = _diagnoses(context, params)
    if found:
        return Outcome(MET, "diagnosis: " + "; ".join(_dx(d) for d in found[:3]), tuple(_dx_evidence(d) for d in found))
    where = f" for the {context.request.region} region" if params.get("same_region", True) else ""
    searched = context.facts.read_counts.get("Condition", 0)
    return Outcome(UNKNOWN, f"no active {' or '.join(params['categories'])} diagnosis{where} in {searched} Conditions")


@register(
    "the latest score of a kind (not one measuring a procedure's effect) is recent and at least a minimum",
    kind="pain | disability",
    min="the lowest value that counts",
    max_age_months="how old the latest score may be",
)
def score_at_least(context: Context, params: Mapping[str, Any]) -> Outcome:
    kind = params["kind"]
    scores = [s for s in context.facts.scores(kind) if s.reference not in context.facts.post_procedure_scores]
    if not scores:
        searched = context.facts.read_counts.get("Observation", 0)
        return Outcome(UNKNOWN, f"no {kind} score in {searched} Observations")
    latest = max(scores, key=lambda s: s.start)
    evidence = (Evidence(latest.reference, latest.describe()),)
    if latest.time.last_day < add_months(context.as_of, -int(params["max_age_months"])):
        return Outcome(
            UNKNOWN,
            f"latest {kind} score {latest.describe()} is older than {params['max_age_months']} months",
            evidence,
        )
    minimum = float(params["min"])
    needs = f" (needs ≥ {minimum:g})" if minimum > 0 else ""
    status = MET if latest.value >= minimum else NOT_MET
    return Outcome(status, f"{kind} score {latest.describe()}{needs}", evidence)


@register(
    "the earliest onset of the matching diagnoses lies at least N months before the check date",
    categories="diagnosis categories whose onset counts",
    months="minimum duration in calendar months",
    same_region="optional: default true",
)
def onset_at_least(context: Context, params: Mapping[str, Any]) -> Outcome:
    found = _diagnoses(context, params)
    dated = sorted((d for d in found if d.onset), key=lambda d: d.onset or "")
    if not dated:
        detail = "diagnosis found without an onset date" if found else "no matching diagnosis with an onset date"
        return Outcome(UNKNOWN, detail, tuple(_dx_evidence(d) for d in found))
    first = dated[0]
    onset = date.fromisoformat(first.onset or "")
    reached = add_months(onset, int(params["months"]))
    months = (context.as_of.year - onset.year) * 12 + context.as_of.month - onset.month
    detail = (
        f"pain since {onset.isoformat()} ({first.code}): about {max(months, 0)} months by {context.as_of.isoformat()}"
    )
    status = MET if reached <= context.as_of else NOT_MET
    if status == NOT_MET:
        detail += f"; {params['months']} months are reached on {reached.isoformat()}"
    return Outcome(status, detail, (_dx_evidence(first),))


@register(
    "conservative care (therapy or analgesic) documented on or before the check date, over a minimum span",
    kinds="therapy | analgesic",
    min_days="optional: shortest span from first to last documented care (0: any)",
)
def conservative_care(context: Context, params: Mapping[str, Any]) -> Outcome:
    events = [e for e in context.facts.conservative_care if e.kind in params["kinds"] and e.start <= context.as_of]
    if not events:
        counts = context.facts.read_counts
        searched = (
            counts.get("Procedure", 0) + counts.get("MedicationRequest", 0) + counts.get("MedicationStatement", 0)
        )
        return Outcome(UNKNOWN, f"no conservative therapy or analgesic in {searched} procedures and medication records")
    first = min(e.start for e in events)
    last = min(max(e.end for e in events), context.as_of)
    span = (last - first).days
    names = Counter(e.name for e in events)
    listed = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in names.most_common())
    detail = f"{listed} from {first.isoformat()} to {last.isoformat()} ({span} days)"
    shown = [events[0], *events[1:-1][:3], events[-1]] if len(events) > 1 else events
    evidence = tuple(Evidence(e.reference, e.describe()) for e in dict.fromkeys(shown))
    minimum = int(params.get("min_days", 0) or 0)
    if span < minimum:
        return Outcome(UNKNOWN, f"{detail}; the payer requires {minimum} days of documented care", evidence)
    return Outcome(MET, detail, evidence)


# --- exclusions ----------------------------------------------------------------------------------------------


@register(
    "exclusion: no active diagnosis of the categories and no imaging finding of the kinds for the region",
    label="what is excluded, in words, for the detail line",
    categories="diagnosis categories that exclude",
    findings="imaging findings that exclude",
    same_region="optional: only evidence for the requested region (or naming none) counts (default true)",
    imaging_within_months="optional: only imaging this recent counts",
    lifted_by_synovial_cyst="optional: categories/findings a documented facet synovial cyst explains",
)
def no_active_findings(context: Context, params: Mapping[str, Any]) -> Outcome:
    facts, region = context.facts, context.request.region
    same_region = params.get("same_region", True)
    diagnoses = [
        d
        for d in facts.diagnoses
        if d.category in params["categories"] and d.active and (not same_region or not d.regions or region in d.regions)
    ]
    oldest = (
        add_months(context.as_of, -int(params["imaging_within_months"]))
        if params.get("imaging_within_months")
        else None
    )
    images = [
        f
        for f in facts.imaging_findings
        if f.finding in params["findings"]
        and f.present
        and (not same_region or not f.regions or region in f.regions)
        and (oldest is None or f.day is None or f.day >= oldest)
    ]
    lifted = ""
    liftable = set(params.get("lifted_by_synovial_cyst", ()))
    cyst = _synovial_cyst(context) if liftable and (diagnoses or images) else ()
    if cyst:
        diagnoses = [d for d in diagnoses if d.category not in liftable]
        images = [f for f in images if f.finding not in liftable]
        lifted = f"; radicular findings set aside: a facet synovial cyst is documented ({cyst[0].reference})"
    confirmed = [d for d in diagnoses if d.confirmed]
    if confirmed or images:
        evidence = tuple(_dx_evidence(d) for d in confirmed) + tuple(
            Evidence(f.reference, f.describe()) for f in images
        )
        found = "; ".join([*(_dx(d) for d in confirmed[:2]), *(f.describe() for f in images[:2])])
        return Outcome(NOT_MET, f"{params['label']}: {found}", evidence)
    if diagnoses:
        return Outcome(
            UNKNOWN,
            f"{params['label']}: provisional diagnosis {_dx(diagnoses[0])} must be confirmed or refuted",
            tuple(_dx_evidence(d) for d in diagnoses),
        )
    searched = _searched(facts, bool(params["categories"]), bool(params["findings"]))
    return Outcome(MET, f"searched {searched}: no active {params['label']}{lifted}", cyst, by_absence=True)


@register(
    "exclusion: no prior spinal fusion of the kind (ALIF by CPT 22558 or its name) when the request is in the regions",
    alif_only="only an anterior lumbar interbody fusion excludes",
    regions="request regions the exclusion applies to",
)
def no_prior_fusion(context: Context, params: Mapping[str, Any]) -> Outcome:
    if context.request.region not in params["regions"]:
        return Outcome(MET, f"a lumbar fusion does not bear on a {context.request.region} request")
    fusions = [f for f in context.facts.fusions if f.alif or not params["alif_only"]]
    evidence = [
        Evidence(f.reference, f"{f.description} {', '.join(f.levels)} on {f.day or 'undated'}") for f in fusions
    ]
    evidence += context.facts.condition_flags.get("alif", [])
    if evidence:
        return Outcome(NOT_MET, f"prior fusion: {evidence[0].summary}", tuple(evidence))
    counts = context.facts.read_counts
    searched = f"{counts.get('Procedure', 0)} Procedures and {counts.get('Condition', 0)} Conditions"
    kind = "anterior lumbar interbody fusion" if params["alif_only"] else "spinal fusion"
    return Outcome(MET, f"searched {searched}: no {kind}", by_absence=True)


# --- the request ---------------------------------------------------------------------------------------------


@register(
    "a field of the request takes one of the values",
    origin="request",
    field="request field (guidance, sedation, technique, …)",
    values="values that meet the criterion",
    otherwise="optional: status when it does not (default not-met)",
    reason="optional: what the detail says when it does not",
)
def request_in(context: Context, params: Mapping[str, Any]) -> Outcome:
    value = context.request.to_json().get(params["field"])
    if value in params["values"]:
        return Outcome(MET, f"requested {params['field']}: {value}")
    reason = params.get("reason") or f"covered: {', '.join(params['values'])}"
    return Outcome(params.get("otherwise", NOT_MET), f"requested {params['field']}: {value}; {reason}")


@register(
    "the request names at most N levels, regions or session regions (cervical/thoracic, lumbar/sacral)",
    origin="request",
    what="levels | regions | session_regions",
    max="the most allowed",
)
def request_count_at_most(context: Context, params: Mapping[str, Any]) -> Outcome:
    what = params["what"]
    items = {
        "levels": context.request.levels,
        "regions": context.request.regions,
        "session_regions": context.request.session_regions,
    }[what]
    status = MET if len(items) <= int(params["max"]) else NOT_MET
    noun = what.replace("_", " ").rstrip("s") + ("" if len(items) == 1 else "s")
    return Outcome(status, f"{len(items)} {noun} requested ({', '.join(items)}); at most {params['max']}")


# --- procedure history ---------------------------------------------------------------------------------------


@register(
    "sessions of these kinds in the region over a rolling window, the requested one included, stay within a cap",
    kinds="procedure kinds counted (mbb, intra-articular, facet-injection, rfa, pars)",
    intent="diagnostic | therapeutic | any",
    window_months="rolling window in months, back from the check date",
    max="the most sessions allowed",
    include_request="optional: count the requested session (default true)",
    min_months_since_last="optional: the last session must be at least this old",
)
def session_count_at_most(context: Context, params: Mapping[str, Any]) -> Outcome:
    request, intent = context.request, params["intent"]
    start = add_months(context.as_of, -int(params["window_months"]))
    relevant = [
        p
        for p in context.facts.procedures
        if p.kind in params["kinds"]
        and _facet_billed(p)
        and p.time is not None
        and start < p.time.day <= context.as_of
        and p.region in (request.region, None)
    ]
    known = [p for p in relevant if p.region == request.region and (intent == "any" or p.intent == intent)]
    known_days = {p.time.day for p in known if p.time}
    maybe_days = {p.time.day for p in relevant if p.time} - known_days
    if intent != "any":
        maybe_days -= {p.time.day for p in relevant if p.time and p.intent not in (None, intent)}
    total = len(known_days) + (1 if params.get("include_request", True) else 0)
    cap = int(params["max"])
    evidence = tuple(Evidence(p.reference, p.describe()) for p in known)
    detail = (
        f"{len(known_days)} earlier {intent if intent != 'any' else ''} session(s) in the {request.region} region "
        + (f"since {start.isoformat()}; with this one {total}, at most {cap}")
    )
    since = params.get("min_months_since_last")
    if since and known:
        last = max(known_days)
        if add_months(last, int(since)) > context.as_of:
            return Outcome(
                NOT_MET, f"last session on {last.isoformat()}; needs {since} months between sessions", evidence
            )
    if total > cap:
        return Outcome(NOT_MET, detail, evidence)
    if total + len(maybe_days) > cap:
        return Outcome(UNKNOWN, f"{detail}; {len(maybe_days)} more of unknown intent or region", evidence)
    return Outcome(MET, detail.replace("  ", " "), evidence, by_absence=True)


@register(
    "the record documents one of the sources (diagnosis:<category>, device:implanted-electrical, note:<topic>)",
    sources="where the documentation may be",
    label="what is documented, in words",
)
def evidence_documented(context: Context, params: Mapping[str, Any]) -> Outcome:
    found: list[Evidence] = []
    for source in params["sources"]:
        kind, _, name = source.partition(":")
        if kind == "diagnosis":
            found += [
                _dx_evidence(d) for d in context.facts.diagnoses if d.category == name and d.active and d.confirmed
            ]
        elif kind == "device":
            found += context.facts.implanted_devices
        elif kind == "note":
            found += context.facts.notes.get(name, [])
    if found:
        return Outcome(MET, f"{params['label']}: {found[0].summary}", tuple(found))
    counts = context.facts.read_counts
    searched = ", ".join(f"{counts.get(t, 0)} {t}s" for t in ("Condition", "Device", "DocumentReference"))
    return Outcome(UNKNOWN, f"{params['label']}: not found in {searched}")


# --- helpers -------------------------------------------------------------------------------------------------


def _diagnoses(context: Context, params: Mapping[str, Any]) -> list[Diagnosis]:
    region = context.request.region
    same_region = params.get("same_region", True)
    return [
        d
        for d in context.facts.diagnoses
        if d.category in params["categories"] and d.active and d.confirmed and (not same_region or region in d.regions)
    ]


def _dx(diagnosis: Diagnosis) -> str:
    onset = f", onset {diagnosis.onset}" if diagnosis.onset else ""
    return f"{diagnosis.code} {diagnosis.display}{onset}".strip()


def _dx_evidence(diagnosis: Diagnosis) -> Evidence:
    return Evidence(diagnosis.references[0] if diagnosis.references else "Condition/unknown", _dx(diagnosis))


def _searched(facts: PatientFacts, conditions: bool, imaging: bool) -> str:
    parts = []
    if conditions:
        parts.append(f"{facts.read_counts.get('Condition', 0)} Conditions")
    if imaging:
        parts.append(f"{len(facts.imaging_reports)} imaging reports")
    return " and ".join(parts) or "the record"


def _synovial_cyst(context: Context) -> tuple[Evidence, ...]:
    region = context.request.region
    found = [
        Evidence(f.reference, f.describe())
        for f in context.facts.imaging_findings
        if f.finding == "synovial-cyst" and f.present and (not f.regions or region in f.regions)
    ]
    found += context.facts.condition_flags.get("synovial-cyst", [])
    found += context.facts.notes.get("synovial-cyst", [])
    return tuple(found)


def _facet_billed(procedure: SpineProcedure) -> bool:
    """A pars injection counts against facet session caps only when billed as a facet code (PARS-07)."""
    return procedure.kind != "pars" or bool(set(procedure.codes) & FACET_INJECTION_CPT)
