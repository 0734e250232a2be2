"""The one place side semantics live: which sides a request or a procedure stands for, and whether a procedure
treated a side (a procedure without a side is unknown, never a match)."""

from __future__ import annotations

import pytest

from smart_app.core.sides import side_of_sides, sides_of, treated_any, treated_side, where


def test_a_bilateral_request_is_two_sides_right_first() -> None:
    assert sides_of("bilateral") == ("right", "left")
    assert sides_of("left") == ("left",)
    assert sides_of("right") == ("right",)
    assert sides_of(None) == ()


@pytest.mark.parametrize(
    ("procedure_side", "side", "answer"),
    [
        ("bilateral", "left", True),
        ("bilateral", "right", True),
        ("right", "right", True),
        ("right", "left", False),
        ("left", "right", False),
        (None, "left", None),  # not recorded: unknown, never a match
        (None, "right", None),
    ],
)
def test_a_procedure_counts_only_for_the_sides_it_treated(
    procedure_side: str | None, side: str, answer: object
) -> None:
    assert treated_side(procedure_side, side) is answer


def test_treated_any_side_of_a_request() -> None:
    assert treated_any("right", "bilateral") is True
    assert treated_any("right", "left") is False
    assert treated_any(None, "bilateral") is None
    assert treated_any("bilateral", "left") is True


def test_sides_make_up_a_request_side_and_a_place_is_written_side_first() -> None:
    assert side_of_sides(["left", "right"]) == "bilateral"
    assert side_of_sides(["left"]) == "left"
    with pytest.raises(ValueError, match="no side"):
        side_of_sides([])
    assert where("left", ("L4-L5", "L5-S1")) == "left L4-L5, L5-S1"
    assert where("right", ()) == "right"
