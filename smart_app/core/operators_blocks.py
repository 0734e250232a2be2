"""Operators that read earlier blocks and ablations, side by side and level by level (issue 9, parts 1 and 2).

- A block counts for a side and a level only when it treated both (`episodes.tested`); one whose side or levels
  were not recorded may have, so it can keep a criterion `unknown` but never makes it `met`.
- A bilateral request needs the requirement on each side; the detail says per side what was found
  ("right L4-L5, L5-S1: 2 blocks ≥ 80 %; left: none").
- Fewer qualifying blocks than needed is `not-met` with `shortfall` set and a next step in words; the checklist
  keeps it `unknown` when a resource type the criterion reads could not be read.

Earlier treatments (therapeutic injections, RFAs) are in `operators_treatments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smart_app.core.episodes import (
    tested,
    workup_blocks,
    workup_by_side,
)
from smart_app.core.model import Evidence
from smart_app.core.operators_base import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Outcome,
    register,
    worst,
)
from smart_app.core.operators_treatments import procedure_day
from smart_app.core.procedures import SpineProcedure
from smart_app.core.sides import BILATERAL, LEFT, RIGHT, sides_of, treated_side, where

_KIND_NOUNS = {"mbb": "medial branch block", "intra-articular": "intra-articular facet block"}


@dataclass(frozen=True)
class _Cell:
    """One side at one level: how many blocks surely gave the relief, how many failed, how many may count."""

    side: str
    level: str
    good: int
    failed: int
    maybe: int
    other_kind: int

    def status(self, count: int) -> str:
        if self.good >= count:
            return MET
        return UNKNOWN if self.good + self.maybe >= count else NOT_MET

    def summary(self, minimum: float) -> str:
        parts = []
        if self.good:
            parts.append(f"{_blocks(self.good)} ≥ {minimum:g} %")
        if self.failed:
            parts.append(f"{_blocks(self.failed)} below {minimum:g} %")
        if self.maybe:
            parts.append(f"{_blocks(self.maybe)} without a recorded side, level or relief")
        if self.other_kind:
            parts.append(f"{_blocks(self.other_kind)} of another kind, which do not count")
        return ", ".join(parts) or "none"


def _blocks(n: int) -> str:
    return f"{n} block" if n == 1 else f"{n} blocks"


def _relief_ok(block: SpineProcedure, minimum: float) -> bool | None:
    immediate = _immediate(block)
    return None if immediate is None else immediate >= minimum


def _cell(blocks: list[SpineProcedure], kinds: tuple[str, ...], side: str, level: str, minimum: float) -> _Cell:
    good = failed = maybe = other = 0
    for block in blocks:
        place = tested(block, side, level)
        if place is False:
            continue
        if block.kind not in kinds:
            other += 1
            continue
        relief = _relief_ok(block, minimum)
        if place is True and relief is True:
            good += 1
        elif place is True and relief is False:
            failed += 1
        elif relief is not False:
            maybe += 1
    return _Cell(side, level, good, failed, maybe, other)


def _describe_cells(cells: list[_Cell], minimum: float) -> str:
    """Per side, levels with the same finding grouped: `right L4-L5, L5-S1: 2 blocks ≥ 80 %; left: none`."""
    parts = []
    for side in dict.fromkeys(cell.side for cell in cells):
        mine = [cell for cell in cells if cell.side == side]
        groups: dict[str, list[str]] = {}
        for cell in mine:
            groups.setdefault(cell.summary(minimum), []).append(cell.level)
        if list(groups) == ["none"]:
            parts.append(f"{side}: none")
            continue
        parts += [f"{where(side, levels)}: {text}" for text, levels in groups.items()]
    return "; ".join(parts)


def _next_steps(cells: list[_Cell], count: int, noun: str, minimum: float) -> str:
    """What would meet the requirement where it is not met, sides with the same step and levels joined."""
    steps: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for side in dict.fromkeys(cell.side for cell in cells):
        by_step: dict[str, list[str]] = {}
        for cell in cells:
            if cell.side != side or cell.status(count) != NOT_MET:
                continue
            if cell.failed:
                step = f"reassess the pain source (a block gave less than {minimum:g} % relief) at"
            elif cell.good == 0:
                step = f"a first diagnostic {noun} at"
                if cell.other_kind:
                    step = f"a diagnostic {noun} (blocks of another kind do not count) at"
            else:
                step = f"a confirmatory {noun} at"
            by_step.setdefault(step, []).append(cell.level)
        for step, step_levels in by_step.items():
            steps.setdefault((step, tuple(step_levels)), []).append(side)
    texts = []
    for (step, levels), sides in steps.items():
        side = BILATERAL if {LEFT, RIGHT} <= set(sides) else sides[0]
        texts.append(f"{step} {where(side, levels)}")
    return "; ".join(texts)


@register(
    "the diagnostic blocks of the current work-up: on each requested side, at each requested level, at least N "
    "gave the relief",
    kinds="block kinds that count (mbb, intra-articular, facet-injection)",
    count="how many must have given it",
    min_relief="immediate relief in percent (largest drop within 12 h, same scale as the baseline)",
    only_sides_with_blocks="optional: a side whose work-up holds no block is a first block there and is not checked",
)
def prior_blocks_relief(context: Context, params: Mapping[str, Any]) -> Outcome:
    request = context.request
    kinds = tuple(params["kinds"])
    minimum, count = float(params["min_relief"]), int(params["count"])
    workup = workup_by_side(context.facts, request)
    sides = [s for s in sides_of(request.side) if workup[s] or not params.get("only_sides_with_blocks")]
    cells = [_cell(workup[s], kinds, s, level, minimum) for s in sides for level in request.levels]
    first = [s for s in sides_of(request.side) if s not in sides]
    blocks = workup_blocks(context.facts, request)
    evidence = tuple(_block_evidence(b) for b in blocks if b.kind in kinds)
    status = worst([cell.status(count) for cell in cells]) if cells else MET
    noun = _KIND_NOUNS.get(kinds[0], "diagnostic facet block") if len(kinds) == 1 else "medial branch block"
    detail = _describe_cells(cells, minimum)
    detail += "".join(f"; {s}: no earlier block, so this is the first block on the {s}" for s in first)
    detail += f" (needs {count} {noun}{'s' if count > 1 else ''} with ≥ {minimum:g} % relief on each side"
    detail += " and level)"
    if status != NOT_MET:
        return Outcome(status, detail, evidence)
    failing = [cell for cell in cells if cell.status(count) == NOT_MET]
    return Outcome(
        NOT_MET,
        detail,
        evidence,
        shortfall=not any(cell.failed for cell in failing),
        next_step=_next_steps(cells, count, noun, minimum),
    )


@register("on each requested side, the confirmatory block is at the same levels as the earlier diagnostic block")
def same_levels_as_prior_block(context: Context, params: Mapping[str, Any]) -> Outcome:
    request = context.request
    workup = workup_by_side(context.facts, request)
    found = {side: blocks[-1] for side, blocks in workup.items() if blocks}
    if not found:
        return Outcome(UNKNOWN, "no earlier diagnostic block at these levels on the requested side")
    statuses, parts, steps = [], [], []
    for side, last in found.items():
        if treated_side(last.side, side) is None:
            statuses.append(UNKNOWN)
            parts.append(f"{side}: the earlier block does not record its side ({last.describe()})")
        elif not last.levels:
            statuses.append(UNKNOWN)
            parts.append(f"{side}: the earlier block does not record its levels ({last.describe()})")
        elif last.covers(request.levels):
            statuses.append(MET)
            parts.append(f"{side}: earlier block {last.describe()}")
        else:
            missing = [level for level in request.levels if level not in last.levels]
            statuses.append(NOT_MET)
            parts.append(f"{side}: earlier block {last.describe()} did not test {', '.join(missing)}")
            steps.append(f"a first diagnostic block at {where(side, missing)}")
    evidence = tuple(_block_evidence(b) for b in found.values())
    status = worst(statuses)
    return Outcome(status, "; ".join(parts), evidence, shortfall=status == NOT_MET, next_step="; ".join(steps))


@register(
    "at least N days since the latest diagnostic block of the work-up on a requested side",
    days="minimum interval in days",
)
def days_since_prior_block_at_least(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = [b for b in workup_blocks(context.facts, context.request) if b.time]
    if not blocks:
        return Outcome(UNKNOWN, "no dated earlier diagnostic block")
    last = blocks[-1]
    days = (context.as_of - procedure_day(last)).days
    status = MET if days >= int(params["days"]) else NOT_MET
    detail = f"{days} days since {last.describe()} (at least {params['days']}"
    detail += ")" if status == MET else "; a shorter interval needs a documented clinical reason)"
    return Outcome(status, detail, (_block_evidence(last),))


@register("every diagnostic block of the work-up has a baseline and a follow-up score on the same scale")
def same_scale_around_blocks(context: Context, params: Mapping[str, Any]) -> Outcome:
    blocks = workup_blocks(context.facts, context.request)
    if not blocks:
        return Outcome(UNKNOWN, "no diagnostic block at these levels and sides in the record")
    missing = [b for b in blocks if b.pain_relief is None or not b.pain_relief.points]
    evidence = tuple(_block_evidence(b) for b in blocks)
    if missing:
        return Outcome(UNKNOWN, f"no baseline or follow-up on one scale for {missing[0].describe()}", evidence)
    scales = sorted({b.pain_relief.scale for b in blocks if b.pain_relief})
    return Outcome(MET, f"{len(blocks)} block(s) with baseline and follow-up on {', '.join(scales)}", evidence)


# --- helpers -------------------------------------------------------------------------------------------------


def _immediate(block: SpineProcedure) -> float | None:
    return block.pain_relief.immediate_percent if block.pain_relief else None


def _block_evidence(block: SpineProcedure) -> Evidence:
    relief = block.pain_relief.describe_immediate() if block.pain_relief else "no baseline score in the 30 days before"
    return Evidence(block.reference, f"{block.describe()}: {relief}")
