"""Payer conventions: defaults are Medicare's, a payer overrides key by key, unknown keys and values are refused."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core.coding import InvalidConventions, code_request, resolve_conventions
from smart_app.core.model import SYSTEM_ICD10, CheckRequest, Diagnosis
from smart_app.rules.coding import load_coding_table

TABLE = load_coding_table()
BILATERAL_MBB = CheckRequest.build(
    procedure="medial-branch-block", intent="diagnostic", levels="L4-L5,L5-S1", side="bilateral"
)
DIAGNOSES = [Diagnosis("M47.816", SYSTEM_ICD10)]


def modifiers(conventions: dict[str, Any] | None) -> list[list[str]]:
    return [line["modifiers"] for line in code_request(BILATERAL_MBB, DIAGNOSES, TABLE, conventions).lines]


def test_no_conventions_means_medicare() -> None:
    assert resolve_conventions(TABLE, None) == {
        "bilateral": "modifier-50",
        "kx_on_diagnostic": True,
        "medicare_lcd": True,
    }
    assert modifiers(None) == modifiers({}) == [["50", "KX"], ["50", "KX"]]


def test_a_payer_overrides_one_key_and_keeps_the_other_defaults() -> None:
    assert modifiers({"bilateral": "rt-lt-lines"}) == [["KX", "RT"], ["KX", "LT"], ["KX", "RT"], ["KX", "LT"]]
    assert modifiers({"kx_on_diagnostic": False}) == [["50"], ["50"]]


def test_rt_lt_lines_keep_one_unit_each() -> None:
    lines = code_request(BILATERAL_MBB, DIAGNOSES, TABLE, {"bilateral": "rt-lt-lines"}).lines
    assert [line["units"] for line in lines] == [1, 1, 1, 1]


def test_unilateral_requests_ignore_the_bilateral_convention() -> None:
    request = CheckRequest.build(procedure="radiofrequency-ablation", levels="L5-S1", side="left")
    for conventions in ({"bilateral": "modifier-50"}, {"bilateral": "rt-lt-lines"}):
        assert [line["modifiers"] for line in code_request(request, DIAGNOSES, TABLE, conventions).lines] == [["LT"]]


@pytest.mark.parametrize(
    ("conventions", "message"),
    [
        ({"bilateral": "two-units"}, "bilateral"),
        ({"kx_on_diagnostic": "yes"}, "kx_on_diagnostic"),
        ({"kx_on_diagnostic": 1}, "kx_on_diagnostic"),
        ({"modifier_style": "50"}, "unknown coding convention 'modifier_style'"),
    ],
)
def test_unknown_keys_and_values_are_refused(conventions: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConventions, match=message):
        code_request(BILATERAL_MBB, DIAGNOSES, TABLE, conventions)
