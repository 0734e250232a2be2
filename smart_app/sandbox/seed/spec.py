"""What a seed scenario is: the person, the payer, the request to try and what the checklist should answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from smart_app.sandbox.seed.timeline import ANCHOR_DATE

if TYPE_CHECKING:
    from smart_app.sandbox.seed.builder import RecordBuilder

Gender = Literal["male", "female", "other", "unknown"]


@dataclass(frozen=True)
class Person:
    given: tuple[str, ...]
    family: str
    gender: Gender
    birth_date: str
    city: str
    state: str

    @property
    def display_name(self) -> str:
        return " ".join((*self.given, self.family))


@dataclass(frozen=True)
class Payer:
    """The patient's coverage; `display` goes into `Coverage.payor.display`, which selects the payer policy."""

    display: str
    plan: str
    medicare: bool
    relationship: Literal["self", "child", "spouse"] = "self"
    subscriber: str | None = None


MEDICARE_PART_B = Payer(display="Medicare Part B", plan="Medicare Part B", medicare=True)
BLUEBELL_PPO = Payer(display="Bluebell Health PPO", plan="Bluebell Family PPO 1500", medicare=False)


@dataclass(frozen=True)
class Request:
    """The `smart-app check` request a scenario is built for (../shared/contracts/CLI.md)."""

    procedure: Literal["pars-injection", "facet-injection", "medial-branch-block", "radiofrequency-ablation"]
    levels: str
    side: Literal["left", "right", "bilateral"]
    intent: Literal["diagnostic", "therapeutic"] | None = None

    def args(self) -> dict[str, str]:
        """The request in the `args` form of cases.json (underscored names, `as_of` = the anchor date)."""
        result = {"procedure": self.procedure, "levels": self.levels, "side": self.side}
        result["as_of"] = ANCHOR_DATE.isoformat()
        if self.intent:
            result["intent"] = self.intent
        return result

    def cli_args(self) -> tuple[str, ...]:
        """The same request as `smart-app check` flags."""
        flags: list[str] = []
        for key, value in self.args().items():
            flags += [f"--{key.replace('_', '-')}", value]
        return tuple(flags)


@dataclass(frozen=True)
class Scenario:
    """One seed patient: `write` adds the clinical record to a builder that already holds Patient and Coverage.

    `expected` holds only what ../shared/domain/policy-rules.md decides without doubt (verdict, criteria,
    coding, …); the pathway is added from `pathway`.
    """

    name: str
    label: str
    pathway: str
    person: Person
    request: Request
    expected: Mapping[str, Any]
    write: Callable[[RecordBuilder], None]
    payer: Payer = MEDICARE_PART_B
