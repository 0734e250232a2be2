"""A small checker for the constraints our profiles declare in their differentials.

It understands exactly what fhir_profiles/ uses: cardinality (min/max, per parent), `fixed[x]` and `pattern[x]`,
bindings (required: a coding must be in the ValueSet's expansion; extensible: reported as warnings), the types of
a choice element, Reference target types, extension slices by url, and FHIRPath invariants (evaluated with
fhirpathpy). It is not a general FHIR validator: base R4 validity is checked by fhir.resources and the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhirpathpy import evaluate

PROFILES_DIR = Path(__file__).resolve().parents[2] / "fhir_profiles"


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_definitions() -> tuple[dict[str, dict[str, Any]], dict[str, set[tuple[str, str]]]]:
    """Profiles by url, and ValueSet url → {(system, code)} from the expansions."""
    profiles: dict[str, dict[str, Any]] = {}
    valuesets: dict[str, set[tuple[str, str]]] = {}
    for path in PROFILES_DIR.glob("*.json"):
        resource = json.loads(path.read_text())
        if resource["resourceType"] == "StructureDefinition":
            profiles[resource["url"]] = resource
        elif resource["resourceType"] == "ValueSet":
            contains = resource["expansion"]["contains"]
            valuesets[resource["url"]] = {(item["system"], item["code"]) for item in contains}
    return profiles, valuesets


def check(resource: Mapping[str, Any], profile: Mapping[str, Any], valuesets: Mapping[str, set]) -> Report:
    report = Report()
    elements = profile["differential"]["element"]
    slices = {element["id"]: element for element in elements if element.get("sliceName")}
    for element in elements:
        path = element["id"].split(".")
        parents = _values(resource, path[1:-1], slices) if len(path) > 1 else [resource]
        name = path[-1]
        for parent in parents:
            values = _values(parent, [name], slices, prefix=".".join(path[:-1])) if len(path) > 1 else [resource]
            _check_element(element, values, report, valuesets)
            if name.endswith("[x]") and element.get("type") and isinstance(parent, Mapping):
                _check_choice(element, parent, name[:-3], report)
    return report


def _values(node: Any, names: list[str], slices: Mapping[str, Any], prefix: str = "") -> list[Any]:
    """Every value reached by following `names` from `node` (lists flattened; `name:slice` filters by url)."""
    current = [node]
    for name in names:
        found: list[Any] = []
        element_name, _, slice_name = name.partition(":")
        for item in current:
            if not isinstance(item, Mapping):
                continue
            if element_name.endswith("[x]"):
                stem = element_name[:-3]
                values = [
                    value for key, value in item.items() if key.startswith(stem) and key[len(stem) :][:1].isupper()
                ]
            else:
                values = [item[element_name]] if element_name in item else []
            for value in values:
                found.extend(value if isinstance(value, list) else [value])
        if slice_name:
            url = _slice_url(slices, f"{prefix}.{name}" if prefix else name)
            found = [value for value in found if isinstance(value, Mapping) and value.get("url") == url]
        current = found
        prefix = f"{prefix}.{name}" if prefix else name
    return current


def _slice_url(slices: Mapping[str, Any], element_id: str) -> str:
    element = next(value for key, value in slices.items() if key.endswith(element_id.split(".", 1)[-1]))
    return str(element["type"][0]["profile"][0])


def _check_element(element: Mapping[str, Any], values: list[Any], report: Report, valuesets: Mapping) -> None:
    where = element["id"]
    if "min" in element and len(values) < element["min"]:
        report.errors.append(f"{where}: at least {element['min']} expected, found {len(values)}")
    if element.get("max") not in (None, "*") and len(values) > int(element["max"]):
        report.errors.append(f"{where}: at most {element['max']} expected, found {len(values)}")
    for key, expected in element.items():
        if key.startswith("fixed"):
            for value in values:
                if value != expected:
                    report.errors.append(f"{where}: must be {expected!r}, is {value!r}")
        elif key.startswith("pattern"):
            for value in values:
                if not _matches_pattern(value, expected):
                    report.errors.append(f"{where}: does not match the pattern {expected!r}")
    binding = element.get("binding")
    if binding and binding.get("valueSet") in valuesets:
        members = valuesets[binding["valueSet"]]
        for value in values:
            if not _in_valueset(value, members):
                message = f"{where}: {_codes(value)} not in {binding['valueSet']}"
                (report.errors if binding["strength"] == "required" else report.warnings).append(message)
    for type_ in element.get("type", []):
        if type_.get("code") == "Reference" and type_.get("targetProfile"):
            allowed = {url.rsplit("/", 1)[-1] for url in type_["targetProfile"]}
            for value in values:
                reference = str(value.get("reference", ""))
                target_type = reference.split("/")[-2] if "/" in reference else ""
                if not reference.startswith("urn:") and target_type not in allowed:
                    report.errors.append(f"{where}: {reference} is not a {' | '.join(sorted(allowed))}")
    for constraint in element.get("constraint", []):
        for value in values:
            if evaluate(dict(value), constraint["expression"]) != [True]:
                report.errors.append(f"{where}: {constraint['key']} {constraint['human']}")


def _check_choice(element: Mapping[str, Any], parent: Mapping[str, Any], stem: str, report: Report) -> None:
    """A choice element restricted to some types: only `stem<Type>` keys of those types may appear."""
    allowed = {type_["code"][:1].upper() + type_["code"][1:] for type_ in element["type"]}
    for key in parent:
        if key.startswith(stem) and key[len(stem) :][:1].isupper() and key[len(stem) :] not in allowed:
            report.errors.append(f"{element['id']}: {key} is not allowed (only {', '.join(sorted(allowed))})")


def _matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, Mapping):
        return isinstance(value, Mapping) and all(_matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_matches_pattern(v, p) for v in value) for p in pattern)
    return value == pattern


def _in_valueset(value: Any, members: set[tuple[str, str]]) -> bool:
    if isinstance(value, str):  # a code: the system is implied by the binding
        return any(code == value for _, code in members)
    if isinstance(value, Mapping) and "coding" in value:
        return any((coding.get("system"), coding.get("code")) in members for coding in value["coding"])
    if isinstance(value, Mapping) and "system" in value:
        return (value.get("system"), value.get("code")) in members
    return False


def _codes(value: Any) -> str:
    if isinstance(value, Mapping) and "coding" in value:
        return ", ".join(f"{c.get('system')}|{c.get('code')}" for c in value["coding"])
    return repr(value)


def check_against_own_profile(resource: Mapping[str, Any]) -> Report:
    """Check a resource against the profile named in its meta.profile (ours), or raise KeyError."""
    profiles, valuesets = load_definitions()
    profile = profiles[resource["meta"]["profile"][0]]
    return check(resource, profile, valuesets)
