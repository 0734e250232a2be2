"""CPT and ICD-10-CM coding of the requested procedure: CPT lines, modifiers, units, diagnoses, warnings.

Pure: every rule lives in the coding table (`smart_app/rules/coding/*.yaml`, loaded and validated by
`smart_app.rules.coding.load_coding_table`); this module only applies it. How a request is coded:

1. One region per session (CR-16): the levels are grouped into cervical/thoracic and lumbar/sacral, T12-L1 travelling
   with lumbar joints. With two regions the one with more levels is coded (a tie keeps the upper one) and a warning
   names the levels left off.
2. The first `selection` row that matches the request picks the code family (6449x, 0213T-0218T, 6463x).
3. The family's ladder turns levels into codes. Each level picks its code from its own code region, so T12-L1 +
   L1-L2 is 64490 + 64494 and, for ablation, 64633 + 64636 (CR-04, CR-06).
4. Laterality and the payer's conventions give the modifiers: RT or LT for one side; bilateral as one line with 50 or
   as RT and LT lines (always RT and LT for an ASC); KX on diagnostic facet injections and blocks (Medicare).
5. Each line lists the active ICD-10-CM diagnoses of the record whose region matches it, specific before symptom.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smart_app.core.fhir_json import normalise_icd10
from smart_app.core.model import (
    CERVICAL_THORACIC,
    LUMBAR_SACRAL,
    SYSTEM_CPT,
    CheckRequest,
    Diagnosis,
    InvalidRequest,
    Warning,
    region_of_vertebra,
    session_region_of_level,
)

# Warnings the coder raises from what it finds; the table holds their text and source.
COMPUTED_WARNINGS: frozenset[str] = frozenset(
    {"more-than-one-region", "no-supporting-diagnosis", "symptom-diagnosis-only", "diagnosis-region-mismatch"}
)
# The fields a warning message or an alternative's `needs` may use.
MESSAGE_FIELDS: frozenset[str] = frozenset(
    {
        "primary",
        "codes",
        "levels",
        "level_count",
        "region",
        "technique",
        "diagnoses",
        "diagnosis_regions",
        "dropped_levels",
    }
)
WARNING_PREFIX = "coding."


class InvalidConventions(ValueError):
    """A payer profile's `coding:` conventions name an unknown key or value. The message is one line."""


@dataclass
class CodingResult:
    """The `coding` object of the check result."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    # Levels of the request left off the lines because they are in a second session region (GEN-12, CR-16).
    left_out_levels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "lines": list(self.lines),
            "alternatives": list(self.alternatives),
            "warnings": [warning.to_json() for warning in self.warnings],
        }
        if self.left_out_levels:
            data["left_out_levels"] = list(self.left_out_levels)
        return data


@dataclass(frozen=True)
class _Item:
    """One code before laterality: a CPT code, the levels it covers and its units."""

    code: str
    levels: tuple[str, ...]
    units: int
    source: str


@dataclass(frozen=True)
class _Session:
    region: str
    levels: tuple[str, ...]
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    """An active ICD-10-CM diagnosis that may support a line of this procedure."""

    code: str
    role: str  # specific | symptom
    regions: frozenset[str]

    @property
    def rank(self) -> tuple[bool, int, str]:
        """Specific before symptom, then the code naming the fewest regions (lumbar before thoracolumbar)."""
        return (self.role != "specific", len(self.regions), self.code)


def code_request(
    request: CheckRequest,
    diagnoses: Sequence[Diagnosis],
    table: Mapping[str, Any],
    conventions: Mapping[str, Any] | None = None,
) -> CodingResult:
    """Code `request` with the coding `table`; `conventions` is the payer's `coding:` mapping (None: Medicare).

    Raises:
        InvalidConventions: a convention key or value the table does not know.
        InvalidRequest: the request has no levels or no selection row matches its procedure.
    """
    if not request.levels:
        raise InvalidRequest("the request names no level to code")
    settings = resolve_conventions(table, conventions)
    session = _choose_session(request.levels)
    context = _context(request, settings, session)
    selection = _first_match(table["selection"], context)
    if selection is None:
        raise InvalidRequest(f"the coding table has no code family for {request.procedure} with {request.guidance}")
    family = table["families"][selection["family"]]
    items = _ladder(family, session.levels, selection["source"])

    with_kx = bool(family["kx_eligible"]) and _holds(table["kx"]["when"], context)
    modifier_sets = _laterality(request, settings, table, with_kx=with_kx)
    lines = [_line(item, modifiers, table) for item in items for modifiers in modifier_sets]
    candidates = _candidates(diagnoses, request.procedure, table)
    fields = _message_fields(request, session, lines, table)
    diagnosis_warnings = _attach_diagnoses(lines, candidates, int(table["max_diagnoses_per_line"]))

    warnings: list[Warning] = []
    if session.dropped:
        warnings.append(_computed_warning(table, "more-than-one-region", fields))
    warnings += [
        Warning(WARNING_PREFIX + row["id"], _format(row["message"], fields), row["source"])
        for row in table["request_warnings"]
        if _holds(row["when"], context)
    ]
    warnings += [_computed_warning(table, name, {**fields, **extra}) for name, extra in diagnosis_warnings]
    alternatives = [_alternative(row, fields, table) for row in table["alternatives"] if _holds(row["when"], context)]
    return CodingResult(lines=lines, alternatives=alternatives, warnings=warnings, left_out_levels=session.dropped)


def resolve_conventions(table: Mapping[str, Any], conventions: Mapping[str, Any] | None) -> dict[str, Any]:
    """The table's default (Medicare) conventions overlaid with the payer's; raises InvalidConventions."""
    choices: Mapping[str, list[Any]] = table["conventions"]["choices"]
    settings = dict(table["conventions"]["defaults"])
    for key, value in (conventions or {}).items():
        if key not in choices:
            raise InvalidConventions(f"unknown coding convention {key!r}; known: {', '.join(sorted(choices))}")
        if not any(_same(value, choice) for choice in choices[key]):
            allowed = ", ".join(str(choice) for choice in choices[key])
            raise InvalidConventions(f"coding convention {key!r} must be one of {allowed}; got {value!r}")
        settings[key] = value
    return settings


# --- session and code regions ---------------------------------------------------------------------------------


def code_region(level: str) -> str:
    """CPT's region of a level: its upper vertebra decides, so T12-L1 takes the cervical/thoracic codes (CR-06)."""
    return CERVICAL_THORACIC if level[0] in "CT" else LUMBAR_SACRAL


def _choose_session(levels: Sequence[str]) -> _Session:
    groups: dict[str, list[str]] = {}
    for level in levels:
        groups.setdefault(session_region_of_level(level, levels), []).append(level)
    chosen = max(groups, key=lambda region: (len(groups[region]), region == CERVICAL_THORACIC))
    kept = tuple(groups[chosen])
    return _Session(chosen, kept, tuple(level for level in levels if level not in kept))


def _diagnosis_regions_of_level(level: str) -> frozenset[str]:
    """The regions a diagnosis may name for this level: both vertebrae's (T12-L1 is thoracic and lumbar)."""
    return frozenset(region_of_vertebra(vertebra) for vertebra in level.split("-"))


# --- rules as data: conditions ----------------------------------------------------------------------------------


def _context(request: CheckRequest, settings: Mapping[str, Any], session: _Session) -> dict[str, Any]:
    return {
        "procedure": request.procedure,
        "intent": request.intent,
        "side": request.side,
        "guidance": request.guidance,
        "technique": request.technique,
        "setting": request.setting,
        "code_region": session.region,
        "level_count": len(session.levels),
        **settings,
    }


def _holds(when: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every key of `when` holds: a list names the accepted values; `min_levels` bounds the coded level count."""
    for key, accepted in when.items():
        if key == "min_levels":
            if context["level_count"] < accepted:
                return False
        elif not any(_same(context.get(key), value) for value in accepted):
            return False
    return True


def _same(value: Any, choice: Any) -> bool:
    """Equal and of the same type: `1` is not `true`, `"true"` is not `true`."""
    return bool(value == choice and type(value) is type(choice))


def _first_match(rows: Iterable[Mapping[str, Any]], context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((row for row in rows if _holds(row["when"], context)), None)


# --- codes, units, modifiers ------------------------------------------------------------------------------------


def _ladder(family: Mapping[str, Any], levels: tuple[str, ...], source: str) -> list[_Item]:
    """Levels → codes. `levels`: first, second, one line for every level from the third (units 1, CR-05).
    `joints`: first, then each further joint on its add-on code (units = number of joints, CR-14)."""
    codes = family["codes"]
    mixed = len({code_region(level) for level in levels}) > 1
    line_source = f"{source}; CR-04, CR-06" if mixed else source

    def rung(level: str, name: str) -> str:
        return str(codes[code_region(level)][name])

    items = [_Item(rung(levels[0], "first"), levels[:1], 1, line_source)]
    if family["ladder"] == "levels":
        if len(levels) > 1:
            items.append(_Item(rung(levels[1], "second"), levels[1:2], 1, line_source))
        if len(levels) > 2:
            items.append(_Item(rung(levels[2], "third_and_more"), levels[2:], 1, f"{line_source}; CR-05"))
        return items
    for level in levels[1:]:
        code = rung(level, "each_additional")
        last = items[-1]
        if len(items) > 1 and last.code == code:
            items[-1] = _Item(code, (*last.levels, level), last.units + 1, last.source)
        else:
            items.append(_Item(code, (level,), 1, line_source))
    return items


def _laterality(
    request: CheckRequest, settings: Mapping[str, Any], table: Mapping[str, Any], *, with_kx: bool
) -> list[list[str]]:
    """The modifier sets of the lines one code becomes: one set per line (RT and LT lines give two)."""
    side_modifiers: Mapping[str, str] = table["unilateral"]["modifiers"]
    if request.side in side_modifiers:
        sets = [[side_modifiers[request.side]]]
    elif table["setting_bilateral"].get(request.setting, settings["bilateral"]) == "modifier-50":
        sets = [["50"]]
    else:
        sets = [[side_modifiers["right"]], [side_modifiers["left"]]]
    kx = ["KX"] if with_kx else []
    return [sorted({*modifiers, *kx}) for modifiers in sets]


def _line(item: _Item, modifiers: list[str], table: Mapping[str, Any]) -> dict[str, Any]:
    code = table["codes"][item.code]
    return {
        "code": item.code,
        "system": SYSTEM_CPT,
        "display": code["label"],
        "add_on": bool(code["add_on"]),
        "modifiers": modifiers,
        "units": item.units,
        "levels": list(item.levels),
        "diagnoses": [],
        "source": item.source,
    }


# --- diagnoses --------------------------------------------------------------------------------------------------


_Classification = tuple[str, list[str], frozenset[str]]  # role, procedures supported, regions


def _classify(diagnosis: Diagnosis, code: str, table: Mapping[str, Any]) -> _Classification | None:
    """Role, procedures supported and regions of one ICD-10-CM code: its group in the table, else its category."""
    for group in table["diagnosis_groups"]:
        match = re.match(group["pattern"], code)
        if match:
            site = match.groupdict().get("site")
            if site is not None:
                return group["role"], group["supports"], frozenset(table["site_characters"][site])
            if "regions" in group:
                return group["role"], group["supports"], frozenset(group["regions"])
            return group["role"], group["supports"], _recorded_region(diagnosis)
    for fallback in table["fallback_categories"]:
        if fallback["category"] == diagnosis.category:
            return fallback["role"], fallback["supports"], _recorded_region(diagnosis)
    return None


def _recorded_region(diagnosis: Diagnosis) -> frozenset[str]:
    """The regions the fact extractor read from the record (body site, text) for a code that does not name one."""
    return frozenset(diagnosis.regions or ((diagnosis.region,) if diagnosis.region else ()))


def _candidates(diagnoses: Sequence[Diagnosis], procedure: str, table: Mapping[str, Any]) -> list[_Candidate]:
    """Active, confirmed ICD-10-CM diagnoses that may support this procedure, best first. A provisional or
    differential diagnosis is left off: outpatient claims do not code uncertain diagnoses (ICD-10-CM Official
    Guidelines, section IV.H)."""
    found: dict[str, _Candidate] = {}
    for diagnosis in diagnoses:
        if not diagnosis.active or not diagnosis.confirmed or not diagnosis.is_icd10:
            continue
        code = normalise_icd10(diagnosis.code)
        classified = _classify(diagnosis, code, table)
        if classified is None or procedure not in classified[1]:
            continue
        role, _, regions = classified
        earlier = found.get(code)
        found[code] = _Candidate(code, role, regions | earlier.regions) if earlier else _Candidate(code, role, regions)
    return sorted(found.values(), key=lambda candidate: candidate.rank)


def _attach_diagnoses(
    lines: list[dict[str, Any]], candidates: list[_Candidate], limit: int
) -> list[tuple[str, dict[str, str]]]:
    """Fill each line's `diagnoses`; return the diagnosis warnings to raise, with their message fields."""
    unsupported: list[str] = []
    symptom_only: list[str] = []
    symptoms_used: list[str] = []
    matched: set[str] = set()
    for line in lines:
        regions = frozenset().union(*(_diagnosis_regions_of_level(level) for level in line["levels"]))
        chosen = [candidate for candidate in candidates if candidate.regions & regions][:limit]
        line["diagnoses"] = [candidate.code for candidate in chosen]
        matched.update(line["diagnoses"])
        if not chosen:
            unsupported.append(line["code"])
        elif all(candidate.role == "symptom" for candidate in chosen):
            symptom_only.append(line["code"])
            symptoms_used += line["diagnoses"]
    warnings: list[tuple[str, dict[str, str]]] = []
    if unsupported:
        warnings.append(("no-supporting-diagnosis", {"codes": _join(unsupported)}))
    if symptom_only:
        warnings.append(("symptom-diagnosis-only", {"codes": _join(symptom_only), "diagnoses": _join(symptoms_used)}))
    for candidate in candidates:
        if candidate.regions and candidate.code not in matched:
            fields = {"diagnoses": candidate.code, "diagnosis_regions": _join(sorted(candidate.regions))}
            warnings.append(("diagnosis-region-mismatch", fields))
    return warnings


# --- messages and alternatives ----------------------------------------------------------------------------------


def _message_fields(
    request: CheckRequest, session: _Session, lines: list[dict[str, Any]], table: Mapping[str, Any]
) -> dict[str, str]:
    return {
        "primary": lines[0]["code"],
        "codes": _join(line["code"] for line in lines),
        "levels": _join(session.levels),
        "level_count": str(len(session.levels)),
        "region": table["regions"][session.region]["label"],
        "technique": request.technique or "",
        "diagnoses": "",
        "diagnosis_regions": "",
        "dropped_levels": _join(session.dropped),
    }


def _computed_warning(table: Mapping[str, Any], name: str, fields: Mapping[str, str]) -> Warning:
    row = table["computed_warnings"][name]
    return Warning(WARNING_PREFIX + name, _format(row["message"], fields), row["source"])


def _alternative(row: Mapping[str, Any], fields: Mapping[str, str], table: Mapping[str, Any]) -> dict[str, Any]:
    alternative: dict[str, Any] = {
        "code": row["code"],
        "system": SYSTEM_CPT,
        "display": table["codes"][row["code"]]["label"],
        "use_when": row["use_when"],
        "needs": [_format(need, fields) for need in row["needs"]],
        "source": row["source"],
    }
    if row.get("comparison_code") == "primary":
        alternative["comparison_code"] = fields["primary"]
    return alternative


def _format(template: str, fields: Mapping[str, str]) -> str:
    return template.format_map(fields)


def _join(values: Iterable[str]) -> str:
    """Comma-separated, each value once, in first-seen order."""
    return ", ".join(dict.fromkeys(values))
