"""The operator registry: what an operator returns (`Outcome`), what it reads (`Context`), how one is registered
and run, and the one composition operator. The operators themselves live by topic in `operators_record` and
`operators_blocks`; `core.operators` imports both, so importing it gives the whole closed set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from smart_app.core.facts import PatientFacts
from smart_app.core.model import CheckRequest, Evidence, Warning
from smart_app.core.policy import Rule

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
    # not-met because the record holds fewer qualifying procedures than needed: only a complete read proves that,
    # so the checklist makes it `unknown` when a resource type the criterion reads could not be read.
    shortfall: bool = False
    next_step: str = ""  # what would meet the criterion, in words ("a confirmatory medial branch block at …")


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


def register(summary: str, origin: str = "record", **params: str) -> Callable[[OperatorFn], OperatorFn]:
    """Add the decorated function to the closed set under its own name."""

    def add(run: OperatorFn) -> OperatorFn:
        OPERATORS[run.__name__] = OperatorSpec(run.__name__, summary, params, origin, run)
        return run

    return add


def run_rule(rule: Rule, context: Context) -> Outcome:
    return OPERATORS[rule.operator].run(context, rule.params)


def describe_operators() -> list[dict[str, Any]]:
    """The vocabulary for documentation and rule editors: name, summary, parameters."""
    return [{"name": s.name, "summary": s.summary, "params": dict(s.params)} for s in OPERATORS.values()]


def worst(statuses: list[str]) -> str:
    """not-met wins, then unknown, else met."""
    return NOT_MET if NOT_MET in statuses else UNKNOWN if UNKNOWN in statuses else MET


@register("every part must hold (not-met wins, then unknown)", parts="list of {operator, params}")
def all_of(context: Context, params: Mapping[str, Any]) -> Outcome:
    outcomes = [run_rule(Rule(part["operator"], part.get("params", {})), context) for part in params["parts"]]
    status = worst([outcome.status for outcome in outcomes])
    failing = [outcome for outcome in outcomes if outcome.status == NOT_MET]
    return Outcome(
        status,
        "; ".join(outcome.detail for outcome in outcomes),
        tuple(evidence for outcome in outcomes for evidence in outcome.evidence),
        by_absence=any(outcome.by_absence for outcome in outcomes),
        warnings=tuple(w for outcome in outcomes for w in outcome.warnings),
        shortfall=bool(failing) and all(outcome.shortfall for outcome in failing),
        next_step="; ".join(outcome.next_step for outcome in outcomes if outcome.next_step),
    )
