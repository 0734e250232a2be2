"""Loads the coverage policies (`policies/*.yaml`) and payer profiles (`payers/*.yaml`) and checks them at startup.

Checks, in order: each file is a YAML mapping; it matches `schema/policy.schema.json` or `schema/payer.schema.json`;
ids are unique; then what a schema cannot say: every criterion a pathway names exists, every rule uses an operator
of `core.operators` with exactly the parameters it knows (nested `all_of` parts too), every `$name` is a declared
parameter, outlook findings are imaging findings the extractor knows; a payer's policies exist and belong to the
right family, its overrides name declared parameters of those policies, its `coding:` mapping is valid for the
coder, and its recognition patterns compile. Any failure raises `RulesError` naming the file and the key path.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from smart_app.core.facts import CoverageFact
from smart_app.core.model import InvalidRequest
from smart_app.core.operators import OPERATORS
from smart_app.core.policy import (
    Advisory,
    CriterionRule,
    Notice,
    Outlook,
    OutlookModifier,
    PayerProfile,
    Policy,
    Rule,
)
from smart_app.core.vocabulary import IMAGING_FINDINGS
from smart_app.rules.coding import CodingTableError, validate_conventions

POLICY_SCHEMA = "policy.schema.json"
PAYER_SCHEMA = "payer.schema.json"
DEFAULT_PAYER = "medicare"
_KNOWN_FINDINGS = frozenset(rule.finding for rule in IMAGING_FINDINGS)


class RulesError(ValueError):
    """A policy or payer file is invalid. The message names the file, the key path and the problem."""


@dataclass
class RuleSet:
    """Every policy and payer profile, validated; builds the effective policy for a payer on demand."""

    documents: Mapping[str, dict[str, Any]]  # policy id → validated YAML document
    payers: Mapping[str, PayerProfile]
    _built: dict[tuple[str, str], Policy] = field(default_factory=dict, repr=False)

    def payer(self, payer_id: str) -> PayerProfile:
        """The payer profile; raises InvalidRequest (one line) for an unknown id."""
        profile = self.payers.get(payer_id.strip().lower())
        if profile is None:
            raise InvalidRequest(f"unknown payer {payer_id!r}; known: {', '.join(sorted(self.payers))}")
        return profile

    def policy_for(self, procedure: str, payer: PayerProfile) -> Policy:
        """The policy governing `procedure` under `payer`, with the payer's parameter overrides applied."""
        family = "pars" if procedure == "pars-injection" else "facet"
        policy_id = payer.policies[family]
        key = (policy_id, payer.id)
        if key not in self._built:
            self._built[key] = build_policy(self.documents[policy_id], payer)
        return self._built[key]

    def recognise(self, coverages: Iterable[CoverageFact]) -> PayerProfile | None:
        """The payer of the first active Coverage (lowest `order` first) that a profile recognises."""
        ordered = sorted((c for c in coverages if c.active), key=lambda c: (c.order is None, c.order or 0))
        for coverage in ordered:
            names = " ; ".join(coverage.names)
            for profile in self.payers.values():
                if any(re.search(pattern, names, re.IGNORECASE) for pattern in profile.recognise):
                    return profile
        return None


@functools.cache
def load_rules() -> RuleSet:
    """The rules shipped with the package (read and validated once per process). Raises RulesError."""
    folder = resources.files("smart_app.rules")
    return read_rules(folder / "policies", folder / "payers")


def read_rules(policies: Traversable, payers: Traversable) -> RuleSet:
    """Read and validate every `*.yaml` in the two folders. Raises RulesError."""
    documents: dict[str, dict[str, Any]] = {}
    for name, document in _read_folder(policies, POLICY_SCHEMA):
        if document["id"] in documents:
            raise RulesError(f"{name}: policy id {document['id']!r} is used twice")
        _raise_first(name, _check_policy(document))
        documents[document["id"]] = document
    profiles: dict[str, PayerProfile] = {}
    for name, document in _read_folder(payers, PAYER_SCHEMA):
        if document["id"] in profiles:
            raise RulesError(f"{name}: payer id {document['id']!r} is used twice")
        _raise_first(name, _check_payer(document, documents))
        profiles[document["id"]] = _payer(document)
    if DEFAULT_PAYER not in profiles:
        raise RulesError(f"payers: the default payer profile {DEFAULT_PAYER!r} is missing")
    return RuleSet(documents, profiles)


def build_policy(document: Mapping[str, Any], payer: PayerProfile | None = None) -> Policy:
    """The typed policy with parameters resolved (defaults, then the payer's overrides)."""
    parameters = {**document["parameters"], **(payer.overrides.get(document["id"], {}) if payer else {})}
    criteria = {
        criterion_id: CriterionRule(
            id=criterion_id,
            text=item["text"],
            source=item["source"],
            rule=_rule(item["rule"], parameters),
            reads=tuple(item.get("reads", ())),
            when={key: tuple(values) for key, values in item.get("when", {}).items()},
            citation=item["citation"],
            authority=item.get("authority", document["authority"]),
        )
        for criterion_id, item in document["criteria"].items()
    }
    advisories = tuple(
        Advisory(
            id=item["id"],
            code=item["code"],
            message=item["message"],
            source=item["source"],
            rule=_rule(item["rule"], parameters),
            reads=tuple(item.get("reads", ())),
            when={key: tuple(values) for key, values in item.get("when", {}).items()},
            citation=item["citation"],
        )
        for item in document.get("advisories", [])
    )
    notices = tuple(
        Notice(
            item["code"],
            " ".join(item["message"].split()),
            item["source"],
            tuple(item["payer_kinds"]),
            item["citation"],
        )
        for item in document.get("notices", [])
    )
    return Policy(
        id=document["id"],
        version=document["version"],
        title=document["title"],
        citation=" ".join(document["citation"].split()),
        effective=date.fromisoformat(document["effective"]),
        family=document["family"],
        parameters=parameters,
        criteria=criteria,
        shared_criteria=tuple(document["shared_criteria"]),
        pathways={name: tuple(ids) for name, ids in document["pathways"].items()},
        advisories=advisories,
        notices=notices,
        outlook=_outlook(document.get("outlook")),
        payer=payer,
    )


# --- reading and checking --------------------------------------------------------------------------------------


def _read_folder(folder: Traversable, schema_name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    validator = _validator(schema_name)
    files = sorted((item for item in folder.iterdir() if item.name.endswith(".yaml")), key=lambda item: item.name)
    if not files:
        raise RulesError(f"{folder.name}: no rule files")
    for file in files:
        name = f"{folder.name}/{file.name}"
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise RulesError(f"{name}: not valid YAML ({' '.join(str(error).split())})") from None
        if not isinstance(document, dict):
            raise RulesError(f"{name}: expected a mapping at the top level")
        errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(top)"
            raise RulesError(f"{name}: {where}: {errors[0].message}")
        yield name, document


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    text = (resources.files("smart_app.rules") / "schema" / schema_name).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _raise_first(name: str, problems: Iterable[str]) -> None:
    for problem in problems:
        raise RulesError(f"{name}: {problem}")


def _check_policy(document: Mapping[str, Any]) -> Iterator[str]:
    criteria, parameters = document["criteria"], document["parameters"]
    for pathway, ids in [("shared_criteria", document["shared_criteria"]), *document["pathways"].items()]:
        for criterion_id in ids:
            if criterion_id not in criteria:
                yield f"{pathway}: criterion {criterion_id} is not defined"
    for criterion_id, item in criteria.items():
        yield from _check_rule(f"criteria.{criterion_id}.rule", item["rule"], parameters)
    for position, item in enumerate(document.get("advisories", [])):
        yield from _check_rule(f"advisories[{position}].rule", item["rule"], parameters)
    for position, modifier in enumerate(document.get("outlook", {}).get("modifiers", [])):
        if modifier["finding"] not in _KNOWN_FINDINGS:
            yield f"outlook.modifiers[{position}]: unknown imaging finding {modifier['finding']!r}"
    try:
        date.fromisoformat(document["effective"])
    except ValueError:
        yield f"effective: {document['effective']!r} is not a date"


def _check_rule(where: str, rule: Mapping[str, Any], parameters: Mapping[str, Any]) -> Iterator[str]:
    spec = OPERATORS.get(rule["operator"])
    if spec is None:
        yield f"{where}: unknown operator {rule['operator']!r} (known: {', '.join(sorted(OPERATORS))})"
        return
    params = rule.get("params", {})
    for name in sorted(set(params) - set(spec.params)):
        yield f"{where}: operator {spec.name} has no parameter {name!r}"
    for name in sorted(spec.required - set(params)):
        yield f"{where}: operator {spec.name} needs parameter {name!r}"
    own = {key: value for key, value in params.items() if not (spec.name == "all_of" and key == "parts")}
    for name in _references(own):
        if name not in parameters:
            yield f"{where}: ${name} is not a declared parameter"
    if spec.name == "all_of":
        parts = params.get("parts")
        if not isinstance(parts, list) or not parts:
            yield f"{where}: all_of needs a non-empty list of parts"
            return
        for position, part in enumerate(parts):
            if not isinstance(part, dict) or "operator" not in part:
                yield f"{where}.parts[{position}]: expected {{operator, params}}"
            else:
                yield from _check_rule(f"{where}.parts[{position}]", part, parameters)


def _check_payer(document: Mapping[str, Any], policies: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    for family, policy_id in document["policies"].items():
        policy = policies.get(policy_id)
        if policy is None:
            yield f"policies.{family}: no policy {policy_id!r}"
        elif policy["family"] != family:
            yield f"policies.{family}: {policy_id} governs {policy['family']} requests"
    for policy_id, overrides in document["parameters"].items():
        if policy_id not in document["policies"].values():
            yield f"parameters.{policy_id}: not one of this payer's policies"
            continue
        declared = policies.get(policy_id, {}).get("parameters", {})
        for name in overrides:
            if name not in declared:
                yield f"parameters.{policy_id}.{name}: the policy declares no such parameter"
    try:
        validate_conventions(document["coding"], where=f"payer {document['id']} coding")
    except CodingTableError as error:
        yield f"coding: {error}"
    for position, pattern in enumerate(document["recognise"]):
        try:
            re.compile(pattern)
        except re.error as error:
            yield f"recognise[{position}]: {error}"


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("$"):
        yield value[1:]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return parameters[value[1:]]
    if isinstance(value, dict):
        return {key: _resolve(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, parameters) for item in value]
    return value


def _rule(raw: Mapping[str, Any], parameters: Mapping[str, Any]) -> Rule:
    return Rule(raw["operator"], _resolve(raw.get("params", {}), parameters))


def _outlook(raw: Mapping[str, Any] | None) -> Outlook | None:
    if not raw:
        return None
    modifiers = tuple(
        OutlookModifier(item["finding"], tuple(item.get("modalities", ())), float(item["rate"]), item["basis"])
        for item in raw.get("modifiers", [])
    )
    return Outlook(raw["success_definition"], float(raw["rate"]), raw["basis"], raw["source"], modifiers)


def _payer(document: Mapping[str, Any]) -> PayerProfile:
    return PayerProfile(
        id=document["id"],
        title=document["title"],
        kind=document["kind"],
        source=document["source"],
        citation=document["citation"],
        policies=dict(document["policies"]),
        overrides={policy: dict(values) for policy, values in document["parameters"].items()},
        coding=dict(document["coding"]),
        recognise=tuple(document["recognise"]),
    )
