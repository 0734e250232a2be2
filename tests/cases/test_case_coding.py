"""The coding part of every acceptance case, run through `smart-app check --bundle … --format json`.

Cases: the public ones (`../shared/cases/cases.json`) and the project's own (`smart_app/sandbox/seed/cases.json`,
when present). Expectations: `coding` (the lines in order: code, exact `modifiers` or `modifiers_include`, units),
`coding_codes_include` and `diagnoses_include` (ICD-10-CM codes on at least one line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smart_app.cli import main
from tests.conftest import CASES_DIR, PROJECT_ROOT
from tests.core.test_coding_public_cases import assert_coding_matches

SEED_CASES = PROJECT_ROOT / "smart_app" / "sandbox" / "seed" / "cases.json"
CODING_KEYS = ("coding", "coding_codes_include", "diagnoses_include")


def coding_cases() -> list[tuple[Path, dict[str, Any]]]:
    """(bundle path, case) for every case with a coding expectation."""
    found = []
    for cases_file in (CASES_DIR / "cases.json", SEED_CASES):
        if not cases_file.exists():
            continue
        for case in json.loads(cases_file.read_text(encoding="utf-8")):
            if any(key in case["expected"] for key in CODING_KEYS):
                found.append((bundle_path(cases_file.parent, case["bundle"]), case))
    return found


def bundle_path(folder: Path, name: str) -> Path:
    direct = folder / name
    return direct if direct.exists() else folder / "bundles" / name


def cli_arguments(bundle: Path, args: dict[str, str]) -> list[str]:
    arguments = ["check", "--bundle", str(bundle), "--format", "json"]
    for key, value in args.items():
        arguments += [f"--{key.replace('_', '-')}", str(value)]
    return arguments


CASES = coding_cases()


@pytest.mark.parametrize(("bundle", "case"), CASES, ids=[case["name"] for _, case in CASES])
def test_case_coding(bundle: Path, case: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, cli_arguments(bundle, case["args"]))
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert_coding_matches(case["expected"], document["coding"])
    warnings = document["coding"]["warnings"]
    assert all(warning["code"] and warning["message"] for warning in warnings)
    if case["expected"].get("verdict") == "ready":  # a ready request has a diagnosis on every line
        assert all(line["diagnoses"] for line in document["coding"]["lines"])
        assert "coding.no-supporting-diagnosis" not in {warning["code"] for warning in warnings}
