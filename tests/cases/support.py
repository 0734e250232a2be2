"""Running `smart-app check` in-process and validating its output against the shared contract (no tests here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from smart_app.cli import main
from tests.conftest import CASES_DIR, CHECK_RESULT_SCHEMA, PROJECT_ROOT

SEED_DIR = PROJECT_ROOT / "smart_app" / "sandbox" / "seed"
_VALIDATOR = Draft202012Validator(
    json.loads(CHECK_RESULT_SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
)
_FLAGS = ("procedure", "levels", "side", "intent", "guidance", "sedation", "technique", "setting", "payer", "as_of")


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.stdout)
        return result


def run_check(*args: str, env: dict[str, str] | None = None) -> CliRun:
    outcome = CliRunner().invoke(main, ["check", *args], env=env, catch_exceptions=False)
    return CliRun(outcome.exit_code, outcome.stdout, outcome.stderr)


def case_flags(case: dict[str, Any], folder: Path) -> list[str]:
    flags = ["--bundle", str(folder / case["bundle"]), "--format", "json"]
    for name in _FLAGS:
        if name in case["args"]:
            flags += [f"--{name.replace('_', '-')}", str(case["args"][name])]
    return flags


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text())
    return cases


def schema_errors(result: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _VALIDATOR.iter_errors(result)]


def assert_matches_expected(result: dict[str, Any], case: dict[str, Any]) -> None:
    """Verdict, pathway, criterion statuses, outlook and warnings as the case expects (coding: the coder's tests)."""
    expected = case["expected"]
    assert schema_errors(result) == []
    assert result["patient"]["reference"] == case["patient"]
    assert result["verdict"] == expected["verdict"]
    if "pathway" in expected:
        assert result["pathway"] == expected["pathway"]
    statuses = {criterion["id"]: criterion["status"] for criterion in result["criteria"]}
    assert {cid: statuses.get(cid) for cid in expected.get("criteria", {})} == expected.get("criteria", {})
    if "outlook_rate" in expected:
        low, high = expected["outlook_rate"]
        assert low <= result["outlook"]["expected_success_rate"] <= high
    if expected.get("warnings_nonempty"):
        assert result["warnings"]


__all__ = ["CASES_DIR", "SEED_DIR"]
