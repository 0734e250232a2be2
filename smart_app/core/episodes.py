"""Which earlier procedures bear on a request: RFAs at its levels, the diagnostic blocks of the current work-up,
earlier therapeutic injections, and the pathway that follows from them (CLI.md "What the verdict means").

- A procedure is "at the requested levels" when it was done at all of them; one whose levels were not recorded,
  in the same region, may be, and is kept (its criteria then say the levels are unknown).
- The current diagnostic work-up is the diagnostic blocks since the last RFA at those levels: an ablation ends
  one work-up, and diagnostics after it (RFAR-03) start a new one.
- A diagnostic request is `confirmatory` when that work-up already holds a block, `first` when it holds none. An
  RFA request is `rfa-repeat` when an earlier RFA was done at any requested level.
"""

from __future__ import annotations

from smart_app.core.facts import PatientFacts
from smart_app.core.model import CheckRequest
from smart_app.core.procedures import BLOCK_KINDS, SpineProcedure


def in_region(procedure: SpineProcedure, request: CheckRequest) -> bool:
    return procedure.region in (None, request.region) if procedure.levels else procedure.region == request.region


def at_levels(procedure: SpineProcedure, request: CheckRequest) -> bool:
    """Done at every requested level (or, with no levels recorded, somewhere in the requested region)."""
    covers = procedure.covers(request.levels)
    return in_region(procedure, request) and covers is not False


def by_time(procedures: list[SpineProcedure]) -> list[SpineProcedure]:
    """The dated procedures, oldest first (an undated one cannot be placed in any window)."""
    dated = [(p.time.start, position, p) for position, p in enumerate(procedures) if p.time is not None]
    return [p for _, _, p in sorted(dated, key=lambda item: item[:2])]


def prior_rfas(facts: PatientFacts, request: CheckRequest) -> list[SpineProcedure]:
    """Earlier RFAs at any requested level, oldest first."""
    return by_time(
        [p for p in facts.procedures if p.kind == "rfa" and p.overlaps(request.levels) and _region_ok(p, request)]
    )


def _region_ok(procedure: SpineProcedure, request: CheckRequest) -> bool:
    return procedure.region in (None, request.region)


def workup_blocks(
    facts: PatientFacts, request: CheckRequest, kinds: tuple[str, ...] = BLOCK_KINDS
) -> list[SpineProcedure]:
    """Diagnostic blocks at the requested levels since the last RFA there, oldest first."""
    rfas = prior_rfas(facts, request)
    since = rfas[-1].time.start if rfas and rfas[-1].time else None
    blocks = [p for p in facts.procedures if p.kind in kinds and p.intent == "diagnostic" and at_levels(p, request)]
    return [p for p in by_time(blocks) if since is None or (p.time is not None and p.time.start > since)]


def therapeutic_injections(facts: PatientFacts, request: CheckRequest) -> list[SpineProcedure]:
    return by_time([p for p in facts.procedures if p.is_block and p.intent == "therapeutic" and at_levels(p, request)])


def decide_pathway(request: CheckRequest, facts: PatientFacts) -> str:
    if request.procedure == "pars-injection":
        return "pars-injection"
    if request.procedure == "radiofrequency-ablation":
        return "rfa-repeat" if prior_rfas(facts, request) else "rfa-initial"
    if request.intent == "therapeutic":
        return "facet-therapeutic"
    return "facet-diagnostic-confirmatory" if workup_blocks(facts, request) else "facet-diagnostic-first"
