"""The typed form of a coverage policy and a payer profile, as `rules.loader` builds them from the YAML files.

A `Policy` here is already effective for one payer: the payer's parameter overrides are applied and every `$name`
in a criterion's parameters is replaced by its value, so the checklist never sees an unresolved rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Rule:
    """One use of an operator: its name and its (resolved) parameters."""

    operator: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class CriterionRule:
    """A criterion of the policy reference (`GEN-01` …) with its text, clause and logic."""

    id: str
    text: str
    source: str
    rule: Rule
    reads: tuple[str, ...] = ()  # resource types searched; if one was unreadable, a "met by absence" is unknown
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # request field → values it applies to
    citation: str = ""  # the public source (LCD number and section, article, paper), never our file names
    authority: str = "payer"  # payer: the payer's policy says so | clinical: our own clinical checklist


@dataclass(frozen=True)
class Advisory:
    """A check whose failure is a warning for the clinician, never a verdict (e.g. PARS-07)."""

    id: str
    code: str
    message: str
    source: str
    rule: Rule
    reads: tuple[str, ...] = ()
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    citation: str = ""


@dataclass(frozen=True)
class Notice:
    """A fixed warning shown for every request of this policy under payers of the listed kinds."""

    code: str
    message: str
    source: str
    payer_kinds: tuple[str, ...]
    citation: str = ""


@dataclass(frozen=True)
class OutlookModifier:
    finding: str  # an imaging finding at the requested level (vocabulary.IMAGING_FINDINGS)
    modalities: tuple[str, ...]
    rate: float
    basis: str


@dataclass(frozen=True)
class Outlook:
    success_definition: str
    rate: float
    basis: str
    source: str
    modifiers: tuple[OutlookModifier, ...] = ()


@dataclass(frozen=True)
class PayerProfile:
    id: str
    title: str
    kind: str  # medicare | commercial
    source: str  # our trace (policy-rules row, confidence)
    policies: Mapping[str, str]  # family (facet | pars) → policy id
    overrides: Mapping[str, Mapping[str, Any]]  # policy id → parameter → value
    coding: Mapping[str, Any]
    recognise: tuple[str, ...]  # regular expressions matched on Coverage payor / plan names
    citation: str = ""  # the public policy the overrides come from


@dataclass(frozen=True)
class Policy:
    id: str
    version: str
    title: str
    citation: str
    effective: date
    family: str  # facet | pars
    parameters: Mapping[str, Any]
    criteria: Mapping[str, CriterionRule]
    shared_criteria: tuple[str, ...]
    pathways: Mapping[str, tuple[str, ...]]
    advisories: tuple[Advisory, ...] = ()
    notices: tuple[Notice, ...] = ()
    outlook: Outlook | None = None
    payer: PayerProfile | None = None

    def criteria_for(self, pathway: str) -> list[CriterionRule]:
        ids = [*self.shared_criteria, *(i for i in self.pathways.get(pathway, ()) if i not in self.shared_criteria)]
        return [self.criteria[i] for i in ids]

    def describe(self) -> dict[str, str]:
        """The `policy` object of the check result: which document, which version, under which payer."""
        title = self.title
        citation = self.citation
        if self.payer is not None:
            changed = self.payer.overrides.get(self.id, {})
            if changed:
                listed = ", ".join(f"{name}={value}" for name, value in changed.items())
                title = f"{title}, as applied by {self.payer.title}"
                public = self.payer.citation or self.payer.source
                citation = f"{citation.rstrip('.')}; payer overrides ({listed}): {public}"
        return {"id": self.id, "version": self.version, "title": title, "citation": citation}
