import pytest

from smart_app.core.model import (
    CheckRequest,
    InvalidRequest,
    parse_levels,
    regions_of_levels,
    session_regions_of_levels,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L4-5", ("L4-L5",)),
        ("L5/S1", ("L5-S1",)),
        ("l5-s1, L4-L5", ("L4-L5", "L5-S1")),
        ("T12-L1,L1-L2", ("T12-L1", "L1-L2")),
        ("C5-C6", ("C5-C6",)),
        ("C7-T1", ("C7-T1",)),
    ],
)
def test_facet_levels_are_canonical(text: str, expected: tuple[str, ...]) -> None:
    assert parse_levels(text, "medial-branch-block") == expected


@pytest.mark.parametrize("text", ["L4-L6", "L4", "L3-L5", "X1-X2", "", "L5-S2"])
def test_bad_facet_levels_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_levels(text, "medial-branch-block")


def test_pars_levels_name_a_vertebra() -> None:
    assert parse_levels("l5", "pars-injection") == ("L5",)
    with pytest.raises(InvalidRequest):
        parse_levels("L4-L5", "pars-injection")


def test_regions() -> None:
    assert regions_of_levels(["T12-L1", "L1-L2"]) == ("lumbar",)
    assert regions_of_levels(["T12-L1"]) == ("thoracic",)
    assert regions_of_levels(["C5-C6", "L4-L5"]) == ("cervical", "lumbar")


def test_request_defaults_and_intent_rules() -> None:
    rfa = CheckRequest.build(procedure="radiofrequency-ablation", levels="L4-5", side="bilateral")
    assert (rfa.intent, rfa.technique, rfa.region) == ("therapeutic", "thermal", "lumbar")
    pars = CheckRequest.build(procedure="pars-injection", levels="L5", side="bilateral")
    assert pars.intent == "diagnostic"
    with pytest.raises(InvalidRequest, match="intent"):
        CheckRequest.build(procedure="medial-branch-block", levels="L4-L5", side="left")
    with pytest.raises(InvalidRequest, match="side"):
        CheckRequest.build(procedure="medial-branch-block", levels="L4-L5", side="both", intent="diagnostic")


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (["C7-T1", "T1-T2"], ("cervical-thoracic",)),
        (["T12-L1"], ("cervical-thoracic",)),
        (["T12-L1", "L1-L2"], ("lumbar-sacral",)),
        (["C5-C6", "L4-L5"], ("cervical-thoracic", "lumbar-sacral")),
        (["L5-S1"], ("lumbar-sacral",)),
    ],
)
def test_session_regions_follow_the_lcd_grouping(levels: list[str], expected: tuple[str, ...]) -> None:
    assert session_regions_of_levels(levels) == expected
