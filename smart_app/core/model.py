"""Shared value types of the clinical core: the request, spine levels, diagnoses, evidence and warnings.

These types are the vocabulary between `facts`, `checklist`, `coding` and `documents`. Field names follow the
check-result contract (`../shared/contracts/check-result.schema.json`) so serialising them is a plain mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Procedure = Literal["pars-injection", "facet-injection", "medial-branch-block", "radiofrequency-ablation"]
Intent = Literal["diagnostic", "therapeutic"]
Region = Literal["cervical", "thoracic", "lumbar"]
Side = Literal["left", "right", "bilateral"]
Guidance = Literal["fluoroscopy", "ct", "ultrasound", "none"]
Sedation = Literal["none", "moderate", "mac", "general"]
Technique = Literal["thermal", "pulsed", "cryo", "chemical"]
Setting = Literal["physician", "asc", "hospital-outpatient"]

PROCEDURES: tuple[str, ...] = ("pars-injection", "facet-injection", "medial-branch-block", "radiofrequency-ablation")
INTENTS: tuple[str, ...] = ("diagnostic", "therapeutic")
SIDES: tuple[str, ...] = ("left", "right", "bilateral")
GUIDANCES: tuple[str, ...] = ("fluoroscopy", "ct", "ultrasound", "none")
SEDATIONS: tuple[str, ...] = ("none", "moderate", "mac", "general")
TECHNIQUES: tuple[str, ...] = ("thermal", "pulsed", "cryo", "chemical")
SETTINGS: tuple[str, ...] = ("physician", "asc", "hospital-outpatient")

SYSTEM_ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SYSTEM_SNOMED = "http://snomed.info/sct"
SYSTEM_CPT = "http://www.ama-assn.org/go/cpt"
SYSTEM_CPT_OID = "urn:oid:2.16.840.1.113883.6.12"
SYSTEM_LOINC = "http://loinc.org"
SYSTEM_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


class InvalidRequest(ValueError):
    """The request cannot be checked as given (bad level spelling, missing intent, …). The message is one line."""


# --- spine levels --------------------------------------------------------------------------------------------

_VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_VERTEBRA_INDEX = {name: index for index, name in enumerate(_VERTEBRAE)}
_VERTEBRA_RE = re.compile(r"^([CTLS])\s*(\d{1,2})$")


def vertebra_index(name: str) -> int:
    """Position of a vertebra from C1 (0) down to S1; raises InvalidRequest for an unknown name."""
    try:
        return _VERTEBRA_INDEX[name]
    except KeyError:
        raise InvalidRequest(f"unknown vertebra {name!r}") from None


def _canonical_vertebra(token: str, implied_letter: str | None = None) -> str:
    token = token.strip().upper()
    if token.isdigit() and implied_letter:
        token = implied_letter + token
    match = _VERTEBRA_RE.match(token)
    if not match:
        raise InvalidRequest(f"cannot read vertebra {token!r}")
    name = f"{match.group(1)}{int(match.group(2))}"
    vertebra_index(name)
    return name


def canonical_joint(text: str) -> str:
    """`L4-5`, `l4/l5`, `L5/S1`, `L5-S1` → canonical `L4-L5`, `L5-S1`. The two vertebrae must be adjacent."""
    parts = re.split(r"\s*[-/–]\s*", text.strip())
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidRequest(f"a facet level names two adjacent vertebrae, like L4-L5; got {text!r}")
    upper = _canonical_vertebra(parts[0])
    lower = _canonical_vertebra(parts[1], implied_letter=upper[0])
    if vertebra_index(lower) - vertebra_index(upper) != 1:
        raise InvalidRequest(f"facet level {text!r} does not name two adjacent vertebrae")
    return f"{upper}-{lower}"


def canonical_vertebra_level(text: str) -> str:
    """Pars injections name one vertebra: `l5` → `L5`."""
    name = _canonical_vertebra(text)
    if name.startswith("S"):
        raise InvalidRequest(f"pars level must be a cervical, thoracic or lumbar vertebra; got {text!r}")
    return name


def parse_levels(text: str | Iterable[str], procedure: str) -> tuple[str, ...]:
    """Comma-separated levels → canonical, de-duplicated, ordered top to bottom."""
    items = [part for part in (text.split(",") if isinstance(text, str) else list(text)) if part.strip()]
    if not items:
        raise InvalidRequest("--levels needs at least one level")
    if procedure == "pars-injection":
        levels = {canonical_vertebra_level(item) for item in items}
        return tuple(sorted(levels, key=vertebra_index))
    joints = {canonical_joint(item) for item in items}
    return tuple(sorted(joints, key=lambda joint: vertebra_index(joint.split("-")[0])))


def region_of_vertebra(name: str) -> Region:
    letter = name[0]
    if letter == "C":
        return "cervical"
    if letter == "T":
        return "thoracic"
    return "lumbar"


def region_of_level(level: str) -> Region:
    """Region of one level. A joint takes its upper vertebra's region, except T12-L1 (thoracolumbar) which is
    reported by `regions_of_levels` as belonging to the lumbar session when it travels with lumbar joints."""
    return region_of_vertebra(level.split("-")[0])


def regions_of_levels(levels: Iterable[str]) -> tuple[Region, ...]:
    """The distinct spinal regions of a session. Contiguous T12-L1 with lumbar joints counts as one lumbar region
    (policy-rules GEN-12 note, S6)."""
    levels = list(levels)
    regions = {region_of_level(level) for level in levels if level != "T12-L1"}
    if "T12-L1" in levels:
        regions.add("lumbar" if "lumbar" in regions else "thoracic")
    order: tuple[Region, ...] = ("cervical", "thoracic", "lumbar")
    return tuple(region for region in order if region in regions)


CERVICAL_THORACIC = "cervical-thoracic"
LUMBAR_SACRAL = "lumbar-sacral"


def session_region_of_level(level: str, levels: Iterable[str] = ()) -> str:
    """The session region of a level: `cervical-thoracic` or `lumbar-sacral` (the LCD allows one per session,
    GEN-12). A joint goes with its upper vertebra, so T12-L1 is cervical/thoracic (the CPT rule, CR-06) — except that
    contiguous T12-L1 with lumbar joints counts as one lumbar session (S6)."""
    if level == "T12-L1" and any(other[0] in "LS" for other in levels):
        return LUMBAR_SACRAL
    return CERVICAL_THORACIC if level[0] in "CT" else LUMBAR_SACRAL


def session_regions_of_levels(levels: Iterable[str]) -> tuple[str, ...]:
    """The distinct session regions of a request, cervical/thoracic first."""
    levels = list(levels)
    found = {session_region_of_level(level, levels) for level in levels}
    return tuple(region for region in (CERVICAL_THORACIC, LUMBAR_SACRAL) if region in found)


# --- the request --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRequest:
    """What the clinician asks to be checked. Built by `CheckRequest.build`, which validates and canonicalises."""

    procedure: str
    intent: str
    region: str
    levels: tuple[str, ...]
    side: str
    guidance: str = "fluoroscopy"
    sedation: str = "none"
    technique: str | None = None
    setting: str = "physician"
    payer: str = "medicare"

    @classmethod
    def build(
        cls,
        *,
        procedure: str,
        levels: str | Iterable[str],
        side: str,
        intent: str | None = None,
        guidance: str = "fluoroscopy",
        sedation: str = "none",
        technique: str | None = None,
        setting: str = "physician",
        payer: str = "medicare",
    ) -> CheckRequest:
        _require_choice("procedure", procedure, PROCEDURES)
        _require_choice("side", side, SIDES)
        _require_choice("guidance", guidance, GUIDANCES)
        _require_choice("sedation", sedation, SEDATIONS)
        _require_choice("setting", setting, SETTINGS)
        if procedure == "radiofrequency-ablation":
            if intent not in (None, "therapeutic"):
                raise InvalidRequest("radiofrequency ablation is therapeutic; --intent diagnostic does not apply")
            intent = "therapeutic"
            technique = technique or "thermal"
            _require_choice("technique", technique, TECHNIQUES)
        else:
            if technique is not None:
                raise InvalidRequest("--technique applies to radiofrequency ablation only")
            if procedure == "pars-injection":
                intent = intent or "diagnostic"
            elif intent is None:
                raise InvalidRequest(f"--intent (diagnostic or therapeutic) is required for {procedure}")
        _require_choice("intent", intent, INTENTS)
        canonical = parse_levels(levels, procedure)
        regions = regions_of_levels(canonical)
        payer = (payer or "medicare").strip().lower()
        if not payer:
            raise InvalidRequest("--payer must not be empty")
        return cls(
            procedure=procedure,
            intent=str(intent),
            region=regions[0],
            levels=canonical,
            side=side,
            guidance=guidance,
            sedation=sedation,
            technique=technique,
            setting=setting,
            payer=payer,
        )

    @property
    def regions(self) -> tuple[Region, ...]:
        return regions_of_levels(self.levels)

    @property
    def session_regions(self) -> tuple[str, ...]:
        return session_regions_of_levels(self.levels)

    @property
    def is_facet(self) -> bool:
        return self.procedure != "pars-injection"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "procedure": self.procedure,
            "intent": self.intent,
            "region": self.region,
            "levels": list(self.levels),
            "side": self.side,
            "guidance": self.guidance,
            "sedation": self.sedation,
            "setting": self.setting,
            "payer": self.payer,
        }
        if self.technique is not None:
            data["technique"] = self.technique
        return data


def _require_choice(name: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidRequest(f"--{name} must be one of {', '.join(choices)}; got {value!r}")


# --- facts shared by the checklist and the coder -----------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One resource that proves (or disproves) a criterion: `{"reference": "Condition/123", "summary": "…"}`."""

    reference: str
    summary: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"reference": self.reference}
        if self.summary:
            data["summary"] = self.summary
        return data


@dataclass(frozen=True)
class Warning:
    """A message for the clinician or coder that does not change a criterion: `{code, message, source}`."""

    code: str
    message: str
    source: str = ""
    citation: str = ""  # the public source (LCD, article, paper) where `source` is our internal trace

    def to_json(self) -> dict[str, str]:
        data = {"code": self.code, "message": self.message}
        if self.source:
            data["source"] = self.source
        if self.citation:
            data["citation"] = self.citation
        return data


DiagnosisCategory = Literal[
    "axial",
    "pars",
    "radicular",
    "claudication",
    "non-facet",
    "centralized",
    "instability",
    "not-rfa-candidate",
    "other",
]


@dataclass(frozen=True)
class Diagnosis:
    """A diagnosis read from a Condition. `code` is normalised (ICD-10-CM always with its dot, e.g. `M47.816`)."""

    code: str
    system: str
    display: str = ""
    category: str = "other"
    region: str | None = None  # cervical | thoracic | lumbar | None when the code does not say
    levels: tuple[str, ...] = ()
    active: bool = True
    onset: str | None = None  # ISO date (partial dates resolved to the earliest day they allow)
    references: tuple[str, ...] = field(default_factory=tuple)
    # Every region the code spans (M47.815 thoracolumbar → thoracic, lumbar); `region` is the main one.
    regions: tuple[str, ...] = ()
    # False for a provisional / differential / unconfirmed verificationStatus: it raises doubt, it proves nothing.
    confirmed: bool = True

    @property
    def is_icd10(self) -> bool:
        return self.system == SYSTEM_ICD10
