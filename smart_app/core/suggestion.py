"""The next step the record supports: which procedure, levels and side a clinician would most likely request now.

Read from the prior blocks, RFAs and their relief (issue 9, part 3). The web app pre-fills the checklist form with
it and shows it on the clinical summary; the JSON result carries it as the optional field `suggestion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from smart_app.core.facts import PatientFacts


@dataclass(frozen=True)
class Suggestion:
    """A proposal, never a verdict: the clinician can change every field."""

    step: str  # first-diagnostic | confirmatory | rfa-initial | rfa-repeat | therapeutic | pars
    procedure: str  # a contract procedure value (medial-branch-block, radiofrequency-ablation, …)
    intent: str | None  # diagnostic | therapeutic | None where the procedure has no intent choice
    region: str
    levels: tuple[str, ...]
    side: str  # left | right | bilateral
    reason: str  # in words, for the clinician ("two right L4-L5, L5-S1 blocks ≥ 80 %: RFA is next")
    evidence: tuple[str, ...] = field(default_factory=tuple)  # FHIR references the proposal rests on

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "procedure": self.procedure,
            "intent": self.intent,
            "region": self.region,
            "levels": list(self.levels),
            "side": self.side,
            "reason": self.reason,
            "evidence": list(self.evidence),
        }


def suggest_next_step(facts: PatientFacts, as_of: date) -> Suggestion | None:
    """The next procedure the record supports, or None when the record gives no basis (no spine diagnosis)."""
    return None
