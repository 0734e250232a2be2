"""Operators for earlier treatments, per side: relief after the last therapeutic injection or RFA (TX-02,
RFAR-01), the age of the last RFA (RFAR-03), a successful RFA barring diagnostics at its level and side (DX-04),
and the failed-RFA advisory. Side semantics: `core.sides`; see `core.operators` for the rules every operator keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from smart_app.core.episodes import prior_rfas, therapeutic_injections
from smart_app.core.fhir_json import add_months
from smart_app.core.model import Evidence, Warning
from smart_app.core.operators_base import MET, NOT_APPLICABLE, NOT_MET, UNKNOWN, Context, Outcome, register, worst
from smart_app.core.procedures import SpineProcedure
from smart_app.core.scores import Relief
from smart_app.core.sides import sides_of, treated_any, treated_side


@register(
    "on each requested side, the latest earlier treatment of the kinds at these levels gave lasting relief (pain, "
    "or function as alternative)",
    kinds="procedure kinds (rfa, or block kinds for therapeutic injections)",
    min_relief="percent relief each follow-up score must show",
    min_months="for at least this many months (a score at or after that time inside the run)",
    function_min_relief="optional: percent improvement on a disability scale accepted instead (omit: no alternative)",
    when_absent="optional: status when there is no earlier treatment (default not-applicable)",
)
def prior_treatment_relief(context: Context, params: Mapping[str, Any]) -> Outcome:
    absent = params.get("when_absent", NOT_APPLICABLE)
    statuses: list[str] = []
    details: list[str] = []
    evidence: list[Evidence] = []
    for side in sides_of(context.request.side):
        if "rfa" in params["kinds"]:
            earlier = prior_rfas(context.facts, context.request, side)
        else:
            found = therapeutic_injections(context.facts, context.request, side)
            earlier = [p for p in found if p.kind in params["kinds"]]
        if not earlier:
            statuses.append(absent)
            details.append(f"{side}: no earlier treatment of this kind at these levels")
            continue
        status, text, shown = _lasting_treatment(earlier[-1], params)
        if status == MET and treated_side(earlier[-1].side, side) is None:
            status, text = UNKNOWN, f"{text}; its side is not recorded"
        statuses.append(status)
        details.append(f"{side}: {text}")
        evidence += shown
    decided = [s for s in statuses if s != NOT_APPLICABLE]
    status = worst(decided) if decided else NOT_APPLICABLE
    return Outcome(status, "; ".join(details), tuple(dict.fromkeys(evidence)))


def _lasting_treatment(last: SpineProcedure, params: Mapping[str, Any]) -> tuple[str, str, list[Evidence]]:
    months, threshold = int(params["min_months"]), float(params["min_relief"])
    statuses = [lasting_relief(last, last.pain_relief, threshold, months)]
    details = [f"{last.describe()}: pain {_run_text(last, last.pain_relief, threshold)}"]
    evidence = [Evidence(last.reference, last.describe()), *_relief_evidence(last.pain_relief, threshold)]
    if params.get("function_min_relief") is not None:
        function_threshold = float(params["function_min_relief"])
        if last.function_relief is None:
            # Without a disability score before the treatment the alternative can never be shown on the same scale.
            details.append("function: no disability score in the 30 days before, so that alternative cannot apply")
        else:
            statuses.append(lasting_relief(last, last.function_relief, function_threshold, months))
            details.append(f"function {_run_text(last, last.function_relief, function_threshold)}")
            evidence += _relief_evidence(last.function_relief, function_threshold)
    status = MET if MET in statuses else NOT_MET if all(s == NOT_MET for s in statuses) else UNKNOWN
    return status, f"{'; '.join(details)}; needs {months} months", evidence


@register(
    "the last RFA at these levels and sides is less than N years old (older: diagnostics may have to be repeated)",
    years="age in years from which repeat diagnostics are needed when the pain source is in question",
)
def rfa_recent(context: Context, params: Mapping[str, Any]) -> Outcome:
    rfas = [r for r in prior_rfas(context.facts, context.request) if r.time]
    if not rfas:
        return Outcome(UNKNOWN, "no dated earlier RFA at these levels and sides")
    last = rfas[-1]
    evidence = (Evidence(last.reference, last.describe()),)
    if add_months(procedure_day(last), 12 * int(params["years"])) > context.as_of:
        return Outcome(MET, f"last {last.describe()}: less than {params['years']} years ago", evidence)
    return Outcome(
        UNKNOWN,
        f"last {last.describe()} is {params['years']}+ years ago: if the pain source is in question, repeat diagnostic "
        "blocks first",
        evidence,
    )


@register(
    "exclusion: no diagnostic block at the level and side of an earlier successful RFA, unless that RFA is old "
    "enough that diagnostics must be repeated (policy-rules F-5: RFAR-03 as an exception to DX-04)",
    success_pct="relief that makes an RFA successful",
    success_months="for at least this many months",
    exception_years="an RFA this many years old or more no longer bars diagnostics",
)
def no_successful_rfa_at_levels(context: Context, params: Mapping[str, Any]) -> Outcome:
    rfas = prior_rfas(context.facts, context.request)
    if not rfas:
        searched = context.facts.read_counts.get("Procedure", 0)
        return Outcome(
            MET, f"searched {searched} Procedures: no earlier RFA at these levels and sides", by_absence=True
        )
    successes: list[SpineProcedure] = []
    undecided: list[SpineProcedure] = []
    for rfa in rfas:
        verdict = lasting_relief(rfa, rfa.pain_relief, float(params["success_pct"]), int(params["success_months"]))
        (successes if verdict == MET else undecided if verdict == UNKNOWN else []).append(rfa)
    evidence = tuple(Evidence(r.reference, r.describe()) for r in rfas)
    sided = [r for r in successes if treated_any(r.side, context.request.side)]
    if sided:
        last = sided[-1]
        if add_months(procedure_day(last), 12 * int(params["exception_years"])) <= context.as_of:
            warning = Warning(
                "human-review",
                f"diagnostic block at the level of a successful RFA ({last.describe()}) allowed only because it is "
                f"{params['exception_years']}+ years old and the pain source is in question (RFAR-03); confirm",
                "policy-rules F-5",
            )
            return Outcome(
                MET, f"successful {last.describe()} is old enough for repeat diagnostics", evidence, warnings=(warning,)
            )
        return Outcome(NOT_MET, f"successful {last.describe()} at these levels and on this side", evidence)
    if successes:
        return Outcome(
            UNKNOWN, f"successful {successes[-1].describe()} does not record its side; it may be this side", evidence
        )
    if undecided:
        return Outcome(UNKNOWN, f"outcome of {undecided[-1].describe()} is not documented", evidence)
    return Outcome(MET, "earlier RFA at these levels did not give lasting relief", evidence)


@register(
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


# --- helpers -------------------------------------------------------------------------------------------------


def lasting_relief(procedure: SpineProcedure, relief: Relief | None, threshold: float, months: int) -> str:
    """met: ≥ threshold relief lasted the months; not-met: a score broke the run earlier; unknown otherwise."""
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


def procedure_day(procedure: SpineProcedure) -> date:
    """The procedure's day; callers pass dated procedures only (`episodes.by_time` drops undated ones)."""
    return procedure.time.day if procedure.time else date.min
