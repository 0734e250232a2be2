"""Which earlier procedures bear on a request: RFAs at its levels and sides, the diagnostic blocks of the current
work-up, earlier therapeutic injections, and the pathway that follows from them (CLI.md "What the verdict means").

Levels and sides (issue 9, part 1; side semantics in `core.sides`):
- A procedure bears on a request when it was done at one of the requested levels and on one of the requested sides.
  One whose levels were not recorded, in the same region, or whose side was not recorded, *may* bear on it and is
  kept: the criteria then say the levels or the side are unknown (never a match).
- The current diagnostic work-up of a side is its diagnostic blocks since the last RFA there: an ablation ends one
  work-up, and diagnostics after it (RFAR-03) start a new one.
- A diagnostic request is `confirmatory` when the work-up of a requested side already holds a block, `first` when
  none does: a left block after a right block is a first block. An RFA request is `rfa-repeat` when every requested
  side had an earlier RFA at a requested level; when only some did, the sides are at different steps and the
  request is checked as an initial RFA (the stricter pathway), with a warning.
"""

from __future__ import annotations

from smart_app.core.facts import PatientFacts
from smart_app.core.model import CheckRequest
from smart_app.core.procedures import BLOCK_KINDS, SpineProcedure
from smart_app.core.sides import sides_of, treated_any, treated_side


def in_region(procedure: SpineProcedure, request: CheckRequest) -> bool:
    return procedure.region in (None, request.region) if procedure.levels else procedure.region == request.region


def at_levels(procedure: SpineProcedure, request: CheckRequest) -> bool:
    """Done at one of the requested levels (or, with no levels recorded, somewhere in the requested region)."""
    return in_region(procedure, request) and procedure.overlaps(request.levels) is not False


def on_side(procedure: SpineProcedure, request: CheckRequest, side: str | None = None) -> bool:
    """Done, or possibly done (side not recorded), on `side` or, without one, on a side of the request."""
    if side is None:
        return treated_any(procedure.side, request.side) is not False
    return treated_side(procedure.side, side) is not False


def tested(procedure: SpineProcedure, side: str, level: str) -> bool | None:
    """Did it treat this side at this level? None when its side or its levels were not recorded."""
    answers = (treated_side(procedure.side, side), level in procedure.levels if procedure.levels else None)
    if False in answers:
        return False
    return None if None in answers else True


def by_time(procedures: list[SpineProcedure]) -> list[SpineProcedure]:
    """The dated procedures, oldest first (an undated one cannot be placed in any window)."""
    dated = [(p.time.start, position, p) for position, p in enumerate(procedures) if p.time is not None]
    return [p for _, _, p in sorted(dated, key=lambda item: item[:2])]


def prior_rfas(facts: PatientFacts, request: CheckRequest, side: str | None = None) -> list[SpineProcedure]:
    """Earlier RFAs at any requested level, on `side` (default: any requested side), oldest first."""
    return by_time(
        [
            p
            for p in facts.procedures
            if p.kind == "rfa" and p.overlaps(request.levels) and _region_ok(p, request) and on_side(p, request, side)
        ]
    )


def _region_ok(procedure: SpineProcedure, request: CheckRequest) -> bool:
    return procedure.region in (None, request.region)


def workup_blocks(
    facts: PatientFacts, request: CheckRequest, kinds: tuple[str, ...] = BLOCK_KINDS, side: str | None = None
) -> list[SpineProcedure]:
    """Diagnostic blocks at the requested levels and sides since the last RFA there, oldest first."""
    if side is None:
        found = {b.reference: b for s in sides_of(request.side) for b in workup_blocks(facts, request, kinds, s)}
        return by_time(list(found.values()))
    rfas = prior_rfas(facts, request, side)
    since = rfas[-1].time.start if rfas and rfas[-1].time else None
    blocks = [
        p
        for p in facts.procedures
        if p.kind in kinds and p.intent == "diagnostic" and at_levels(p, request) and on_side(p, request, side)
    ]
    return [p for p in by_time(blocks) if since is None or (p.time is not None and p.time.start > since)]


def workup_by_side(facts: PatientFacts, request: CheckRequest) -> dict[str, list[SpineProcedure]]:
    """Each requested side (left, right) → the diagnostic blocks of its current work-up."""
    return {side: workup_blocks(facts, request, side=side) for side in sides_of(request.side)}


def rfas_by_side(facts: PatientFacts, request: CheckRequest) -> dict[str, list[SpineProcedure]]:
    """Each requested side → the earlier RFAs at the requested levels that treated (or may have treated) it."""
    return {side: prior_rfas(facts, request, side) for side in sides_of(request.side)}


def therapeutic_injections(facts: PatientFacts, request: CheckRequest, side: str | None = None) -> list[SpineProcedure]:
    return by_time(
        [
            p
            for p in facts.procedures
            if p.is_block and p.intent == "therapeutic" and at_levels(p, request) and on_side(p, request, side)
        ]
    )


def decide_pathway(request: CheckRequest, facts: PatientFacts) -> str:
    if request.procedure == "pars-injection":
        return "pars-injection"
    if request.procedure == "radiofrequency-ablation":
        return "rfa-repeat" if all(rfas_by_side(facts, request).values()) else "rfa-initial"
    if request.intent == "therapeutic":
        return "facet-therapeutic"
    workup = workup_by_side(facts, request)
    return "facet-diagnostic-confirmatory" if any(workup.values()) else "facet-diagnostic-first"


def mixed_sides(request: CheckRequest, facts: PatientFacts) -> dict[str, list[SpineProcedure]]:
    """For a bilateral request whose sides are at different steps: side → the procedures that set it apart
    (its work-up blocks for a diagnostic request, its earlier RFAs for an RFA); empty when the sides agree."""
    if request.side != "bilateral" or request.procedure == "pars-injection":
        return {}
    if request.procedure == "radiofrequency-ablation":
        by_side = rfas_by_side(facts, request)
    elif request.intent == "diagnostic":
        by_side = workup_by_side(facts, request)
    else:
        return {}
    if all(by_side.values()) or not any(by_side.values()):
        return {}
    return by_side
