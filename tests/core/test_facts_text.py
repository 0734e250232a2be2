"""Findings in free text: negation, spine levels, side."""

from __future__ import annotations

import pytest

from smart_app.core.text_findings import affirmed, find_findings, side_of, spine_levels
from smart_app.core.vocabulary import IMAGING_FINDINGS, NOTE_TOPICS


def findings(text: str) -> set[tuple[str, bool]]:
    return {(m.name, not m.negated) for m in find_findings(text, IMAGING_FINDINGS)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No spondylolisthesis.", {("spondylolisthesis", False)}),
        ("Pars defect without instability.", {("pars-defect", True), ("instability", False)}),
        ("MRI negative for edema at the L5 pars.", {("isthmic-edema", False)}),
        ("No fracture, tumor or infection.", {("fracture", False), ("tumor", False), ("infection", False)}),
        ("No fracture. Bilateral L5 pars defects.", {("fracture", False), ("pars-defect", True)}),
        ("No disc herniation, but right L5 nerve root compression.", {("nerve-root-compression", True)}),
        ("Instability is not seen on flexion.", {("instability", False)}),
        (
            "Grade 2 anterolisthesis of L4 on L5 that increases on flexion.",
            {("spondylolisthesis", True), ("instability", True)},
        ),
        ("L3 compression fracture.", {("fracture", True)}),
        ("Bilateral L5 pars fractures.", {("pars-defect", True)}),  # a pars fracture is the defect, not GEN-05
        ("No interval change in the L5 spondylolysis.", {("pars-defect", True)}),  # pseudo-negation
        ("Left L4-L5 facet synovial cyst.", {("synovial-cyst", True)}),
        ("Stress reaction of the L4 pars.", {("incomplete-defect", True)}),
        ("Marrow edema in the liver.", set()),  # edema counts only near the pars / isthmus / pedicle
    ],
)
def test_negation_and_findings(text: str, expected: set[tuple[str, bool]]) -> None:
    assert findings(text) == expected


def test_a_negation_reaches_only_six_words() -> None:
    text = "No acute process seen on today's study of the lumbar spine, with an old L3 fracture."
    assert ("fracture", True) in findings(text)


@pytest.mark.parametrize(
    ("text", "joints", "vertebrae"),
    [
        ("L4-5 and L5/S1", ("L4-L5", "L5-S1"), ()),
        ("T12-L1, L1-L2", ("T12-L1", "L1-L2"), ()),
        ("C5-C6 facet", ("C5-C6",), ()),
        ("anterolisthesis of L5 on S1", (), ("L5",)),
        ("STIR/T2 hyperintensity at the L4 pars; T1-weighted normal", (), ("L4",)),
        ("L3-L5 levels", (), ("L3", "L5")),  # not adjacent: not a joint
    ],
)
def test_spine_levels(text: str, joints: tuple[str, ...], vertebrae: tuple[str, ...]) -> None:
    assert spine_levels(text) == (joints, vertebrae)


@pytest.mark.parametrize(
    ("text", "side"),
    [("Bilateral L4-L5", "bilateral"), ("left and right", "bilateral"), ("RIGHT L5-S1", "right"), ("L5", None)],
)
def test_side(text: str, side: str | None) -> None:
    assert side_of(text) == side


def test_note_topics_need_an_affirmed_phrase() -> None:
    assert affirmed("Not a candidate for RFA due to pacemaker.", NOTE_TOPICS["not-rfa-candidate"])
    assert not affirmed("RFA discussed; no contraindication.", NOTE_TOPICS["not-rfa-candidate"])
