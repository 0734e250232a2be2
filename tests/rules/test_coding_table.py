"""The coding table loads, validates, and refuses every kind of broken table with a message that names the problem."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from smart_app.core.coding import COMPUTED_WARNINGS
from smart_app.rules.coding import (
    CodingTableError,
    load_coding_table,
    read_coding_table,
    validate_coding_table,
    validate_conventions,
)
from tests.conftest import CASES_DIR

TABLE = load_coding_table()
PACKAGE_FOLDER = Path(str(resources.files("smart_app.rules").joinpath("coding")))
# Phrases of the AMA descriptors for these codes: our labels must use our own words.
AMA_PHRASES = ["paravertebral facet (zygapophyseal) joint", "diagnostic or therapeutic agent", "with image guidance ("]


@pytest.mark.parametrize("name", ["coding-table.schema.json", "coding-conventions.schema.json"])
def test_the_schemas_are_valid_json_schemas(name: str) -> None:
    schema = json.loads(resources.files("smart_app.rules").joinpath("schema", name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)


def test_the_table_loads_with_every_section() -> None:
    assert {"codes", "families", "selection", "diagnosis_groups", "request_warnings", "alternatives"} <= set(TABLE)
    assert TABLE["version"]
    assert set(TABLE["computed_warnings"]) >= COMPUTED_WARNINGS


def test_each_load_is_a_fresh_copy() -> None:
    first = load_coding_table()
    first["codes"].clear()
    assert load_coding_table()["codes"] == TABLE["codes"]


def test_labels_are_our_own_words() -> None:
    for code, row in TABLE["codes"].items():
        label = row["label"].lower()
        assert not any(phrase in label for phrase in AMA_PHRASES), code


def test_every_rule_row_cites_a_source() -> None:
    rows = [*TABLE["selection"], *TABLE["request_warnings"], *TABLE["alternatives"], *TABLE["diagnosis_groups"]]
    rows += [*TABLE["families"].values(), *TABLE["computed_warnings"].values(), TABLE["kx"]]
    assert all(row["source"].strip() for row in rows)


def test_the_codes_the_public_cases_expect_are_in_the_table() -> None:
    cases = json.loads((CASES_DIR / "cases.json").read_text(encoding="utf-8"))
    expected = {line["code"] for case in cases for line in case["expected"].get("coding", [])}
    expected |= {code for case in cases for code in case["expected"].get("coding_codes_include", [])}
    assert expected and expected <= set(TABLE["codes"])


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    table = copy.deepcopy(TABLE)
    change(table)
    return table


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(table: dict[str, Any]) -> None:
        node: Any = table
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown code in a family", _set(["families", "facet-injection", "codes", "lumbar-sacral", "first"], "64483"),
     "64483 is not in codes"),
    ("an add-on as a first rung", _set(["families", "facet-injection", "codes", "lumbar-sacral", "first"], "64494"),
     "add_on should be False"),
    ("a primary code as an add-on rung",
     _set(["families", "radiofrequency-ablation", "codes", "lumbar-sacral", "each_additional"], "64635"),
     "add_on should be True"),
    ("a joints rung in a levels family",
     _set(["families", "facet-injection", "codes", "lumbar-sacral", "each_additional"], "64494"), "families"),
    ("an unknown family", _set(["selection", 0, "family"], "facet-laser"), "unknown family 'facet-laser'"),
    ("an unknown condition key", _set(["selection", 0, "when"], {"payer": ["aetna"]}), "selection.0.when"),
    ("a bad modifier", _set(["unilateral", "modifiers", "left"], "left"), "unilateral.modifiers.left"),
    ("a bad CPT code", _set(["alternatives", 0, "code"], "6499"), "alternatives.0.code"),
    ("an alternative code not in codes", _set(["alternatives", 0, "code"], "64483"), "64483 is not in codes"),
    ("a regular expression that does not compile", _set(["diagnosis_groups", 0, "pattern"], "^M47\\.8[19(?P<site>$"),
     "diagnosis_groups.0.pattern"),
    ("a site group with regions", _set(["diagnosis_groups", 0, "regions"], ["lumbar"]), "site_characters, not regions"),
    ("an unknown message field", _set(["request_warnings", 0, "message"], "coded {cpt} for the pars injection"),
     "unknown field {cpt}"),
    ("a missing computed warning", lambda table: table["computed_warnings"].pop("no-supporting-diagnosis"),
     "no-supporting-diagnosis is missing"),
    ("a repeated warning id", lambda table: table["request_warnings"].append(table["request_warnings"][0]),
     "appears twice"),
    ("a default outside the choices", _set(["conventions", "defaults", "bilateral"], "rt-lt-lines-50"),
     "conventions.defaults.bilateral"),
    ("choices the conventions schema does not allow",
     _set(["conventions", "choices", "bilateral"], ["modifier-50", "rt-lt-lines", "two-units"]),
     "conventions.choices.bilateral: values differ"),
    ("a label too short to say anything", _set(["codes", "64493", "label"], "inj"), "codes.64493.label"),
    ("an unknown top-level key", _set(["modifier_rules"], {}), "modifier_rules"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN])
def test_broken_tables_are_refused(change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(CodingTableError) as raised:
        validate_coding_table(mutated(change))
    assert message in str(raised.value)


def copy_of_the_table(tmp_path: Path) -> Path:
    folder = tmp_path / "coding"
    shutil.copytree(PACKAGE_FOLDER, folder)
    return folder


def test_a_copy_of_the_folder_reads_the_same(tmp_path: Path) -> None:
    assert read_coding_table(copy_of_the_table(tmp_path)) == TABLE


def test_a_key_set_in_two_files_is_refused(tmp_path: Path) -> None:
    folder = copy_of_the_table(tmp_path)
    (folder / "zz-extra.yaml").write_text('version: "2"\n', encoding="utf-8")
    with pytest.raises(CodingTableError, match=r"zz-extra.yaml: key 'version' is already set in coding/table.yaml"):
        read_coding_table(folder)


@pytest.mark.parametrize(
    ("text", "message"), [("codes: [unclosed\n", "not valid YAML"), ("- a list\n", "must hold a mapping")]
)
def test_a_broken_file_is_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    folder = copy_of_the_table(tmp_path)
    (folder / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CodingTableError, match=f"coding/broken.yaml: {message}"):
        read_coding_table(folder)


def test_payer_conventions_are_validated_for_the_payer_loader() -> None:
    validate_conventions({"bilateral": "rt-lt-lines", "kx_on_diagnostic": False, "medicare_lcd": False})
    validate_conventions({})
    with pytest.raises(CodingTableError, match=r"payers/acme.yaml: coding.bilateral: 'two-units' is not one of"):
        validate_conventions({"bilateral": "two-units"}, where="payers/acme.yaml: coding")
    with pytest.raises(CodingTableError, match="modifier_style"):
        validate_conventions({"modifier_style": "50"})
