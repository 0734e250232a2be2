"""Every acceptance case of ../shared/cases and of the project's seed, through `smart-app check`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases.support import CASES_DIR, SEED_DIR, assert_matches_expected, case_flags, load_cases, run_check

PUBLIC = load_cases(CASES_DIR / "cases.json")
SEED = load_cases(SEED_DIR / "cases.json")


@pytest.mark.parametrize("case", PUBLIC, ids=[case["name"] for case in PUBLIC])
def test_public_case(case: dict[str, Any]) -> None:
    run = run_check(*case_flags(case, CASES_DIR))
    assert (run.exit_code, run.stderr) == (0, "")
    assert_matches_expected(run.json(), case)


@pytest.mark.parametrize("case", SEED, ids=[case["name"] for case in SEED])
def test_seed_case(case: dict[str, Any]) -> None:
    run = run_check(*case_flags(case, SEED_DIR))
    assert (run.exit_code, run.stderr) == (0, "")
    assert_matches_expected(run.json(), case)


def test_there_are_cases_to_run() -> None:
    assert len(PUBLIC) >= 12 and len(SEED) >= 1
