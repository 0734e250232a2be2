"""Loads the coding table from `coding/*.yaml` and checks it: JSON Schema first, then what a schema cannot say.

The files are merged into one mapping (a top-level key may appear in one file only), validated against
`schema/coding-table.schema.json`, then cross-checked: every code a family, selection row or alternative names is in
`codes`; first rungs are not add-ons and further rungs are; regular expressions compile and a `site` group is not
combined with `regions`; messages use only the fields the coder fills; every warning the coder raises has its text;
the default conventions are among the choices and match `schema/coding-conventions.schema.json`.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import string
from collections.abc import Iterable, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from smart_app.core.coding import COMPUTED_WARNINGS, MESSAGE_FIELDS

TABLE_DIR = "coding"
TABLE_SCHEMA = "coding-table.schema.json"
CONVENTIONS_SCHEMA = "coding-conventions.schema.json"


class CodingTableError(ValueError):
    """The coding table is not valid. The message names the file (or key path) and the problem."""


def load_coding_table() -> dict[str, Any]:
    """The validated coding table (a fresh copy: callers may not change the cached one).

    Raises:
        CodingTableError: a file is not YAML, a key repeats across files, or the table breaks a rule above.
    """
    return copy.deepcopy(_load_table())


def validate_coding_table(table: Mapping[str, Any]) -> None:
    """Raise CodingTableError unless `table` is a valid coding table."""
    errors = sorted(_validator(TABLE_SCHEMA).iter_errors(table), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        path = ".".join(str(part) for part in first.absolute_path) or "(top)"
        raise CodingTableError(f"coding table: {path}: {first.message}")
    problems = list(_cross_check(table))
    if problems:
        raise CodingTableError("coding table: " + "; ".join(problems))


def validate_conventions(conventions: Mapping[str, Any], *, where: str = "coding") -> None:
    """Raise CodingTableError unless `conventions` is a valid payer `coding:` mapping (for the payer loader)."""
    errors = list(_validator(CONVENTIONS_SCHEMA).iter_errors(conventions))
    if errors:
        first = errors[0]
        path = ".".join(str(part) for part in first.absolute_path)
        raise CodingTableError(f"{where}{'.' + path if path else ''}: {first.message}")


def read_coding_table(folder: Traversable) -> dict[str, Any]:
    """Merge and validate every `*.yaml` file of `folder` (the package's `coding/` folder, or a test copy).

    Raises:
        CodingTableError: as for `load_coding_table`.
    """
    table: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for file in sorted((item for item in folder.iterdir() if item.name.endswith(".yaml")), key=lambda f: f.name):
        for key, value in _read_yaml(file).items():
            if key in table:
                raise CodingTableError(f"{TABLE_DIR}/{file.name}: key {key!r} is already set in {origin[key]}")
            table[key] = value
            origin[key] = f"{TABLE_DIR}/{file.name}"
    validate_coding_table(table)
    return table


@functools.cache
def _load_table() -> dict[str, Any]:
    return read_coding_table(resources.files("smart_app.rules").joinpath(TABLE_DIR))


def _read_yaml(file: Traversable) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CodingTableError(f"{TABLE_DIR}/{file.name}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise CodingTableError(f"{TABLE_DIR}/{file.name}: must hold a mapping")
    return data


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("smart_app.rules").joinpath("schema", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resources(
        (_schema(other)["$id"], Resource.from_contents(_schema(other))) for other in (TABLE_SCHEMA, CONVENTIONS_SCHEMA)
    )
    return Draft202012Validator(_schema(name), registry=registry)


# --- what the schema cannot say -------------------------------------------------------------------------------


def _cross_check(table: Mapping[str, Any]) -> Iterable[str]:
    codes: Mapping[str, Any] = table["codes"]
    for name, family in table["families"].items():
        for region, rungs in family["codes"].items():
            for rung, code in rungs.items():
                if code not in codes:
                    yield f"families.{name}.codes.{region}.{rung}: {code} is not in codes"
                elif codes[code]["add_on"] != (rung != "first"):
                    yield f"families.{name}.codes.{region}.{rung}: {code} add_on should be {rung != 'first'}"
    for index, row in enumerate(table["selection"]):
        if row["family"] not in table["families"]:
            yield f"selection.{index}.family: unknown family {row['family']!r}"
    for index, row in enumerate(table["alternatives"]):
        if row["code"] not in codes:
            yield f"alternatives.{index}.code: {row['code']} is not in codes"
        for need in row["needs"]:
            yield from _check_fields(f"alternatives.{index}.needs", need)
    for index, group in enumerate(table["diagnosis_groups"]):
        yield from _check_group(f"diagnosis_groups.{index}", group)
    for index, row in enumerate(table["request_warnings"]):
        yield from _check_fields(f"request_warnings.{index}.message", row["message"])
    for name, row in table["computed_warnings"].items():
        yield from _check_fields(f"computed_warnings.{name}.message", row["message"])
    for name in sorted(COMPUTED_WARNINGS - set(table["computed_warnings"])):
        yield f"computed_warnings: {name} is missing (the coder raises it)"
    yield from _check_unique("request_warnings", (row["id"] for row in table["request_warnings"]))
    yield from _check_unique("alternatives", (row["id"] for row in table["alternatives"]))
    yield from _check_unique("diagnosis_groups", (row["id"] for row in table["diagnosis_groups"]))
    yield from _check_conventions(table["conventions"])


def _check_group(where: str, group: Mapping[str, Any]) -> Iterable[str]:
    try:
        pattern = re.compile(group["pattern"])
    except re.error as error:
        yield f"{where}.pattern: {error}"
        return
    if "site" in pattern.groupindex and "regions" in group:
        yield f"{where}: a pattern with a (?P<site>…) group takes its regions from site_characters, not regions"


def _check_fields(where: str, template: str) -> Iterable[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        yield f"{where}: {error}"
        return
    for name in sorted(names - MESSAGE_FIELDS):
        yield f"{where}: unknown field {{{name}}}"


def _check_unique(where: str, ids: Iterable[str]) -> Iterable[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            yield f"{where}: id {item!r} appears twice"
        seen.add(item)


def _check_conventions(conventions: Mapping[str, Any]) -> Iterable[str]:
    defaults, choices = conventions["defaults"], conventions["choices"]
    if set(defaults) != set(choices):
        yield "conventions: defaults and choices must name the same keys"
    for key, value in defaults.items():
        if value not in choices.get(key, []):
            yield f"conventions.defaults.{key}: {value!r} is not among the choices"
    properties = _schema(CONVENTIONS_SCHEMA)["properties"]
    if set(choices) != set(properties):
        yield f"conventions.choices: keys differ from {CONVENTIONS_SCHEMA}"
    for key in sorted(set(choices) & set(properties)):
        allowed = properties[key].get("enum", [True, False] if properties[key].get("type") == "boolean" else [])
        if sorted(map(str, choices[key])) != sorted(map(str, allowed)):
            yield f"conventions.choices.{key}: values differ from {CONVENTIONS_SCHEMA}"
