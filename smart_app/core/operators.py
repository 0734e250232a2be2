"""The closed set of operators a policy criterion may use. Policies (YAML) choose an operator and its parameters;
adding a policy needs no code, adding an operator does. The set may grow; it must never shrink.

Each operator reads the request, the patient's facts and the check date and returns an `Outcome`: a status, a
one-line detail that says what was found or searched, and the evidence. The rules every operator keeps:
- a requirement without evidence is `unknown`, never `met`;
- `not-met` only when the record (or the request) proves it;
- an exclusion is `met` "by absence" when the record holds nothing active against it; the checklist turns that
  into `unknown` when a resource type the criterion searches could not be read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from smart_app.core.episodes import (
    prior_rfas,
    therapeutic_injections,
    workup_blocks,
)
from smart_app.core.facts import PatientFacts
from smart_app.core.fhir_json import add_months
from smart_app.core.imaging import ImagingFinding
from smart_app.core.model import CheckRequest, Diagnosis, Evidence, Warning
from smart_app.core.policy import Rule
from smart_app.core.procedures import SpineProcedure
from smart_app.core.scores import Relief
from smart_app.core.vocabulary import FACET_INJECTION_CPT

MET, NOT_MET, UNKNOWN, NOT_APPLICABLE = "met", "not-met", "unknown", "not-applicable"


@dataclass(frozen=True)
class Context:
    request: CheckRequest
    facts: PatientFacts
    as_of: date


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str
    evidence: tuple[Evidence, ...] = ()
    by_absence: bool = False  # met because the record holds nothing against it
    warnings: tuple[Warning, ...] = ()


OperatorFn = Callable[[Context, Mapping[str, Any]], Outcome]


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    summary: str
    params: Mapping[str, str]  # parameter → description ("optional: …" when it may be left out)
    origin: str  # record | request: what the outcome rests on
    run: OperatorFn

    @property
    def required(self) -> frozenset[str]:
        return frozenset(name for name, text in self.params.items() if not text.startswith("optional"))


OPERATORS: dict[str, OperatorSpec] = {}


def _operator(summary: str, origin: str = "record", **params: str) -> Callable[[OperatorFn], OperatorFn]:
    def register(run: OperatorFn) -> OperatorFn:
        OPERATORS[run.__name__] = OperatorSpec(run.__name__, summary, params, origin, run)
        return run

    return register


def run_rule(rule: Rule, context: Context) -> Outcome:
    return OPERATORS[rule.operator].run(context, rule.params)


def describe_operators() -> list[dict[str, Any]]:
    """The vocabulary for documentation and rule editors: name, summary, parameters."""
    return [{"name": s.name, "summary": s.summary, "params": dict(s.params)} for s in OPERATORS.values()]


# --- composition ---------------------------------------------------------------------------------------------


@_operator("every part must hold (not-met wins, then unknown)", parts="list of {operator, params}")
def all_of(context: Context, params: Mapping[str, Any]) -> Outcome:
    outcomes = [run_rule(Rule(part["operator"], part.get("params", {})), context) for part in params["parts"]]
    statuses = {outcome.status for outcome in outcomes}
    status = NOT_MET if NOT_MET in statuses else UNKNOWN if UNKNOWN in statuses else MET
    return Outcome(
        status,
        "; ".join(outcome.detail for outcome in outcomes),
        tuple(evidence for outcome in outcomes for evidence in outcome.evidence),
        by_absence=any(outcome.by_absence for outcome in outcomes),
        warnings=tuple(w for outcome in outcomes for w in outcome.warnings),
    )


# --- diagnoses and scores ------------------------------------------------------------------------------------


@_operator(
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


@_operator(
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


@_operator(
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


@_operator(
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


@_operator(
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


@_operator(
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


@_operator(
    "exclusion: no diagnostic block at the level of an earlier successful RFA, unless that RFA is old enough that "
    "diagnostics must be repeated (policy-rules F-5: RFAR-03 as an exception to DX-04)",
    success_pct="relief that makes an RFA successful",
    success_months="for at least this many months",
    exception_years="an RFA this many years old or more no longer bars diagnostics",
)
def no_successful_rfa_at_levels(context: Context, params: Mapping[str, Any]) -> Outcome:
    rfas = prior_rfas(context.facts, context.request)
    if not rfas:
        searched = context.facts.read_counts.get("Procedure", 0)
        return Outcome(MET, f"searched {searched} Procedures: no earlier RFA at these levels", by_absence=True)
    successes: list[SpineProcedure] = []
    undecided: list[SpineProcedure] = []
    for rfa in rfas:
        verdict = _lasting_relief(rfa, rfa.pain_relief, float(params["success_pct"]), int(params["success_months"]))
        (successes if verdict == MET else undecided if verdict == UNKNOWN else []).append(rfa)
    evidence = tuple(Evidence(r.reference, r.describe()) for r in rfas)
    if successes:
        last = successes[-1]
        if add_months(_day(last), 12 * int(params["exception_years"])) <= context.as_of:
            warning = Warning(
                "human-review",
                f"diagnostic block at the level of a successful RFA ({last.describe()}) allowed only because it is "
                f"{params['exception_years']}+ years old and the pain source is in question (RFAR-03); confirm",
                "policy-rules F-5",
            )
            return Outcome(
                MET, f"successful {last.describe()} is old enough for repeat diagnostics", evidence, warnings=(warning,)
            )
        return Outcome(NOT_MET, f"successful {last.describe()} at these levels", evidence)
    if undecided:
        return Outcome(UNKNOWN, f"outcome of {undecided[-1].describe()} is not documented", evidence)
    return Outcome(MET, "earlier RFA at these levels did not give lasting relief", evidence)


# --- the request ---------------------------------------------------------------------------------------------


@_operator(
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


@_operator(
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


@_operator(
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


@_operator(
    "the diagnostic blocks of the current work-up at the requested levels: at least N gave the relief",
    kinds="block kinds that count (mbb, intra-articular, facet-injection)",
    count="how many must have given it",
    min_relief="immediate relief in percent (largest drop within 12 h, same scale as the baseline)",
)
def prior_blocks_relief(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = workup_blocks(context.facts, context.request)
    eligible = [b for b in blocks if b.kind in params["kinds"]]
    minimum, count = float(params["min_relief"]), int(params["count"])
    good = [b for b in eligible if _immediate(b) is not None and (_immediate(b) or 0) >= minimum]
    failed = [b for b in eligible if _immediate(b) is not None and (_immediate(b) or 0) < minimum]
    evidence = tuple(_block_evidence(b) for b in eligible)
    parts = [f"{len(good)} of {count} required block(s) with ≥ {minimum:g}% relief"]
    parts += [_block_evidence(b).summary for b in eligible]
    ignored = [b for b in blocks if b.kind not in params["kinds"]]
    if ignored:
        parts.append(f"{len(ignored)} block(s) of another kind do not count")
    detail = "; ".join(parts)
    if len(good) >= count:
        return Outcome(MET, detail, evidence)
    if failed:
        return Outcome(NOT_MET, detail, evidence)
    if not eligible:
        detail = f"no diagnostic block of the kind at these levels in the record; {detail}"
    return Outcome(UNKNOWN, detail, evidence)


@_operator("the confirmatory block is at the same levels as the earlier diagnostic block")
def same_levels_as_prior_block(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = workup_blocks(context.facts, context.request)
    if not blocks:
        return Outcome(UNKNOWN, "no earlier diagnostic block at these levels")
    last = blocks[-1]
    evidence = (_block_evidence(last),)
    if last.covers(context.request.levels):
        return Outcome(MET, f"earlier block: {last.describe()}", evidence)
    return Outcome(UNKNOWN, f"earlier block does not record its levels: {last.describe()}", evidence)


@_operator(
    "at least N days since the latest diagnostic block of the work-up",
    days="minimum interval in days",
)
def days_since_prior_block_at_least(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = [b for b in workup_blocks(context.facts, context.request) if b.time]
    if not blocks:
        return Outcome(UNKNOWN, "no dated earlier diagnostic block")
    last = blocks[-1]
    days = (context.as_of - _day(last)).days
    status = MET if days >= int(params["days"]) else NOT_MET
    detail = f"{days} days since {last.describe()} (at least {params['days']}"
    detail += ")" if status == MET else "; a shorter interval needs a documented clinical reason)"
    return Outcome(status, detail, (_block_evidence(last),))


@_operator("every diagnostic block of the work-up has a baseline and a follow-up score on the same scale")
def same_scale_around_blocks(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = workup_blocks(context.facts, context.request)
    if not blocks:
        return Outcome(UNKNOWN, "no diagnostic block at these levels in the record")
    missing = [b for b in blocks if b.pain_relief is None or not b.pain_relief.points]
    evidence = tuple(_block_evidence(b) for b in blocks)
    if missing:
        return Outcome(UNKNOWN, f"no baseline or follow-up on one scale for {missing[0].describe()}", evidence)
    scales = sorted({b.pain_relief.scale for b in blocks if b.pain_relief})
    return Outcome(MET, f"{len(blocks)} block(s) with baseline and follow-up on {', '.join(scales)}", evidence)


@_operator(
    "the latest earlier treatment of the kinds at these levels gave lasting relief (pain, or function as alternative)",
    kinds="procedure kinds (rfa, or block kinds for therapeutic injections)",
    min_relief="percent relief each follow-up score must show",
    min_months="for at least this many months (a score at or after that time inside the run)",
    function_min_relief="optional: percent improvement on a disability scale accepted instead (omit: no alternative)",
    when_absent="optional: status when there is no earlier treatment (default not-applicable)",
)
def prior_treatment_relief(context: Context, params: Mapping[str, Any]) -> Outcome:
    if "rfa" in params["kinds"]:
        earlier = prior_rfas(context.facts, context.request)
    else:
        earlier = [p for p in therapeutic_injections(context.facts, context.request) if p.kind in params["kinds"]]
    if not earlier:
        return Outcome(params.get("when_absent", NOT_APPLICABLE), "no earlier treatment of this kind at these levels")
    last = earlier[-1]
    months, threshold = int(params["min_months"]), float(params["min_relief"])
    statuses = [_lasting_relief(last, last.pain_relief, threshold, months)]
    details = [f"{last.describe()}: pain {_run_text(last, last.pain_relief, threshold)}"]
    evidence = [Evidence(last.reference, last.describe()), *_relief_evidence(last.pain_relief, threshold)]
    if params.get("function_min_relief") is not None:
        function_threshold = float(params["function_min_relief"])
        if last.function_relief is None:
            # Without a disability score before the treatment the alternative can never be shown on the same scale.
            details.append("function: no disability score in the 30 days before, so that alternative cannot apply")
        else:
            statuses.append(_lasting_relief(last, last.function_relief, function_threshold, months))
            details.append(f"function {_run_text(last, last.function_relief, function_threshold)}")
            evidence += _relief_evidence(last.function_relief, function_threshold)
    status = MET if MET in statuses else NOT_MET if all(s == NOT_MET for s in statuses) else UNKNOWN
    return Outcome(status, f"{'; '.join(details)}; needs {months} months", tuple(evidence))


@_operator(
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


@_operator(
    "the last RFA at these levels is less than N years old (older: diagnostics may have to be repeated)",
    years="age in years from which repeat diagnostics are needed when the pain source is in question",
)
def rfa_recent(context: Context, params: Mapping[str, Any]) -> Outcome:
    rfas = [r for r in prior_rfas(context.facts, context.request) if r.time]
    if not rfas:
        return Outcome(UNKNOWN, "no dated earlier RFA at these levels")
    last = rfas[-1]
    evidence = (Evidence(last.reference, last.describe()),)
    if add_months(_day(last), 12 * int(params["years"])) > context.as_of:
        return Outcome(MET, f"last {last.describe()}: less than {params['years']} years ago", evidence)
    return Outcome(
        UNKNOWN,
        f"last {last.describe()} is {params['years']}+ years ago: if the pain source is in question, repeat diagnostic "
        "blocks first",
        evidence,
    )


# --- pars ----------------------------------------------------------------------------------------------------


@_operator(
    "a patient under the age limit must not have a defect that looks acute (healing potential: bracing first)",
    max_age="from this age on the check does not apply",
    acute_findings="imaging findings that make a defect look acute",
    assess_modalities="imaging that can show them (MR)",
)
def no_acute_pars_defect(context: Context, params: Mapping[str, Any]) -> Outcome:
    age = context.facts.age_on(context.as_of)
    if age is None:
        return Outcome(UNKNOWN, "no birth date in the record")
    if age >= int(params["max_age"]):
        return Outcome(MET, f"age {age}: the acute-defect check applies under {params['max_age']}")
    acute = [
        f
        for f in context.facts.imaging_findings
        if f.finding in params["acute_findings"] and f.present and _at_any_level(f, context.request) is not False
    ]
    if acute:
        evidence = tuple(Evidence(f.reference, f.describe()) for f in acute)
        return Outcome(
            NOT_MET, f"age {age} with an acute-looking defect ({acute[0].describe()}): bracing first", evidence
        )
    reports = [r for r in context.facts.imaging_reports if set(r.modalities) & set(params["assess_modalities"])]
    if reports:
        last = reports[-1]
        return Outcome(
            MET,
            f"age {age}; {'/'.join(last.modalities)} on {last.day}: no acute-looking defect",
            (Evidence(last.reference, last.title),),
        )
    return Outcome(UNKNOWN, f"age {age}: no MRI in the record to judge whether the defect is acute")


@_operator(
    "imaging shows the finding at every requested vertebra (a Condition of the categories may supply the level)",
    finding="imaging finding (pars-defect)",
    level_from_categories="optional: diagnosis categories whose recorded level places an unlevelled finding",
)
def imaging_shows(context: Context, params: Mapping[str, Any]) -> Outcome:
    findings = [f for f in context.facts.imaging_findings if f.finding == params["finding"]]
    dx_levels = {
        level
        for d in context.facts.diagnoses
        if d.category in params.get("level_from_categories", ()) and d.active
        for level in d.levels
    }
    shown, evidence = [], []
    for level in context.request.levels:
        hits = [f for f in findings if f.present and (f.at_vertebra(level) or _placed(f, level, dx_levels))]
        if hits:
            shown.append(level)
            evidence += [Evidence(f.reference, f.describe()) for f in hits]
    if len(shown) == len(context.request.levels):
        return Outcome(MET, f"{params['finding']} at {', '.join(shown)}: {evidence[0].summary}", tuple(evidence))
    denied = [f for f in findings if not f.present and f.at_vertebra(context.request.levels[0]) is not False]
    if denied and not evidence:
        return Outcome(
            NOT_MET,
            f"imaging reports no {params['finding']}: {denied[0].describe()}",
            (Evidence(denied[0].reference, denied[0].describe()),),
        )
    others = sorted({v for f in findings if f.present for v in f.vertebrae} - set(shown))
    elsewhere = f" (reported at {', '.join(others)})" if others else ""
    return Outcome(
        UNKNOWN,
        f"no imaging of a {params['finding']} at {', '.join(context.request.levels)}{elsewhere}",
        tuple(evidence),
    )


@_operator(
    "advisory: no earlier RFA in the region that failed (its first follow-up already below the threshold)",
    success_pct="relief below which an RFA failed",
)
def no_failed_rfa(context: Context, params: Mapping[str, Any]) -> Outcome:
    threshold = float(params["success_pct"])
    failed = [
        p
        for p in context.facts.procedures
        if p.kind == "rfa"
        and p.region in (context.request.region, None)
        and p.pain_relief is not None
        and p.pain_relief.points
        and p.pain_relief.sustained(threshold).last is None
    ]
    if failed:
        last = failed[-1]
        return Outcome(
            NOT_MET,
            f"earlier {last.describe()} failed: {_run_text(last, last.pain_relief, threshold)}",
            (Evidence(last.reference, last.describe()),),
        )
    return Outcome(MET, "no failed RFA in the record", by_absence=True)


@_operator("advisory: the patient is at most N years old", max_age="age limit in years")
def age_at_most(context: Context, params: Mapping[str, Any]) -> Outcome:
    age = context.facts.age_on(context.as_of)
    if age is None:
        return Outcome(UNKNOWN, "no birth date in the record")
    return Outcome(MET if age <= int(params["max_age"]) else NOT_MET, f"age {age}")


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


def _immediate(block: SpineProcedure) -> float | None:
    return block.pain_relief.immediate_percent if block.pain_relief else None


def _block_evidence(block: SpineProcedure) -> Evidence:
    relief = block.pain_relief.describe_immediate() if block.pain_relief else "no baseline score in the 30 days before"
    return Evidence(block.reference, f"{block.describe()}: {relief}")


def _lasting_relief(procedure: SpineProcedure, relief: Relief | None, threshold: float, months: int) -> str:
    if relief is None or procedure.time is None:
        return UNKNOWN
    run = relief.sustained(threshold)
    if run.lasted_months(procedure.time, months):
        return MET
    return NOT_MET if run.broken_by is not None else UNKNOWN


def _relief_evidence(relief: Relief | None, threshold: float) -> list[Evidence]:
    """The baseline and the follow-ups up to the first one below the threshold, each with its relief."""
    if relief is None:
        return []
    found = [Evidence(relief.baseline.reference, f"baseline {relief.baseline.describe()}")]
    for point in relief.points:
        found.append(Evidence(point.score.reference, f"{point.score.describe()}: {point.percent:.0f}% relief"))
        if point.percent < threshold:
            break
    return found


def _run_text(procedure: SpineProcedure, relief: Relief | None, threshold: float) -> str:
    if relief is None:
        return "no baseline score in the 30 days before"
    if not relief.points:
        return f"baseline {relief.baseline.describe()}, no follow-up score"
    run = relief.sustained(threshold)
    if run.last:
        text = f"≥ {threshold:g}% relief from {relief.points[0].score.time.iso_day} until {run.last.score.time.iso_day}"
    else:
        text = f"no follow-up with ≥ {threshold:g}% relief"
    if run.broken_by:
        text += f", {run.broken_by.percent:.0f}% on {run.broken_by.score.time.iso_day}"
    return text


def _day(procedure: SpineProcedure) -> date:
    """The procedure's day; callers pass dated procedures only (`episodes.by_time` drops undated ones)."""
    return procedure.time.day if procedure.time else date.min


def _placed(finding: ImagingFinding, level: str, diagnosed_levels: set[str]) -> bool:
    """A finding that names no vertebra is placed at `level` when a diagnosis records that level."""
    return finding.at_vertebra(level) is None and level in diagnosed_levels


def _at_any_level(finding: ImagingFinding, request: CheckRequest) -> bool | None:
    answers = [finding.at_vertebra(level) for level in request.levels]
    if any(answers):
        return True
    return None if any(answer is None for answer in answers) else False
