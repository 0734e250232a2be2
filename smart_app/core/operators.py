"""The closed set of operators a policy criterion may use. Policies (YAML) choose an operator and its parameters;
adding a policy needs no code, adding an operator does. The set may grow; it must never shrink.

Each operator reads the request, the patient's facts and the check date and returns an `Outcome`: a status, a
one-line detail that says what was found or searched, the evidence and, where it helps, the next step. The rules
every operator keeps:
- a requirement without evidence is `unknown`, never `met`;
- `not-met` only when the record (or the request) proves it; a record read completely that holds fewer qualifying
  procedures than a requirement needs proves it (`shortfall`); the checklist turns that back into `unknown` when
  a resource type the criterion reads could not be read;
- an exclusion is `met` "by absence" when the record holds nothing active against it; the checklist turns that
  into `unknown` when a resource type the criterion searches could not be read;
- earlier procedures count only for the sides and levels they treated (`core.sides`, `core.episodes`).

The operators live by topic: `operators_record` (diagnoses, scores, care, exclusions, the request, session counts),
`operators_blocks` (earlier diagnostic blocks, per side and level), `operators_treatments` (earlier therapeutic
injections and ablations, per side) and `operators_pars`; the registry is `operators_base`.
"""

from __future__ import annotations

from smart_app.core import operators_blocks, operators_pars, operators_record, operators_treatments
from smart_app.core.operators_base import (
    MET,
    NOT_APPLICABLE,
    NOT_MET,
    OPERATORS,
    UNKNOWN,
    Context,
    OperatorFn,
    OperatorSpec,
    Outcome,
    describe_operators,
    run_rule,
)

__all__ = [
    "MET",
    "NOT_APPLICABLE",
    "NOT_MET",
    "OPERATORS",
    "UNKNOWN",
    "Context",
    "OperatorFn",
    "OperatorSpec",
    "Outcome",
    "describe_operators",
    "operators_blocks",
    "operators_pars",
    "operators_record",
    "operators_treatments",
    "run_rule",
]
