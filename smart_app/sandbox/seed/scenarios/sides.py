"""Side and level cases (issue 9 "Done when"): a request that the prior blocks do not support on its side or at its
levels, and a block on the other side that starts a new work-up instead of confirming the first one.

Each record otherwise carries what a ready patient has (axial diagnosis > 3 months, conservative care, imaging,
pain and disability scores), so the block criteria decide. Expectations: ../shared/domain/policy-rules.md A.3, A.5
with the side and level rule of `smart_app/core/sides.py` (README "How it decides").
"""

from __future__ import annotations

from collections.abc import Sequence

from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.clinical import Side, clinic_visit, conservative_care, diagnostic_block
from smart_app.sandbox.seed.scenarios.facet_ready import BOTH_LUMBOSACRAL, facet_diagnosis, lumbar_mri
from smart_app.sandbox.seed.spec import Person, Request, Scenario
from smart_app.sandbox.seed.timeline import day

_GOOD_RELIEF = ([("08:30", 1), ("12:00", 2)], [("08:30", 0), ("12:00", 1)])


def _record(
    b: RecordBuilder,
    *,
    side_words: str,
    blocks: Sequence[tuple[int, Side, Sequence[str]]],
    plan: str,
) -> None:
    """Diagnosis, care, MRI and a consultation, then the diagnostic blocks `(offset, side, levels)`, each 8/10 to
    1/10 or better, and a follow-up visit that states the plan."""
    facet_diagnosis(b, -480)
    conservative_care(b, start=-440, nsaid="naproxen")
    lumbar_mri(
        b,
        -280,
        f"{side_words} facet arthropathy at L4-L5 and L5-S1 with small joint effusions. No disc herniation. No "
        "spinal canal or foraminal stenosis. No spondylolisthesis. No fracture or marrow lesion.",
    )
    clinic_visit(
        b,
        offset=-120,
        reason="Chronic axial low back pain",
        pain=8,
        odi=46,
        note_title="Spine clinic consultation",
        note_lines=[
            f"{side_words} axial low back pain for 12 months, worse with extension; no radicular symptoms.",
            "Failed naproxen, acetaminophen and 6 physical therapy visits.",
            "Pain 8/10 (NRS 0-10); Oswestry Disability Index (ODI) 46 %.",
        ],
    )
    described = []
    for index, (offset, side, levels) in enumerate(blocks):
        after = _GOOD_RELIEF[index % 2]
        diagnostic_block(b, offset=offset, levels=levels, side=side, baseline=8, after=after, follow_up=[(1, 8)])
        described.append(
            f"{day(offset)}: diagnostic {side} {' and '.join(levels)} medial branch block, 8/10 to {after[0][1]}/10"
        )
    clinic_visit(
        b,
        offset=-20,
        reason="Follow-up after diagnostic medial branch blocks",
        pain=8,
        odi=45,
        note_title="Procedure follow-up",
        note_lines=[*described, f"Plan: {plan}"],
    )


def _write_left_rfa_after_right_blocks(b: RecordBuilder) -> None:
    _record(
        b,
        side_words="Left-predominant",
        blocks=[(-80, "right", BOTH_LUMBOSACRAL), (-58, "right", BOTH_LUMBOSACRAL)],
        plan="radiofrequency ablation of the left L4-L5 and L5-S1 medial branches.",
    )


def _write_bilateral_rfa_after_right_blocks(b: RecordBuilder) -> None:
    _record(
        b,
        side_words="Bilateral",
        blocks=[(-82, "right", BOTH_LUMBOSACRAL), (-60, "right", BOTH_LUMBOSACRAL)],
        plan="bilateral L4-L5 and L5-S1 radiofrequency ablation.",
    )


def _write_rfa_at_untested_level(b: RecordBuilder) -> None:
    _record(
        b,
        side_words="Bilateral",
        blocks=[(-84, "bilateral", ["L4-L5"]), (-62, "bilateral", ["L4-L5"])],
        plan="bilateral L4-L5 and L5-S1 radiofrequency ablation.",
    )


def _write_left_block_after_right_block(b: RecordBuilder) -> None:
    _record(
        b,
        side_words="Bilateral",
        blocks=[(-40, "right", BOTH_LUMBOSACRAL)],
        plan="diagnostic left L4-L5 and L5-S1 medial branch block (the left side has not been blocked yet).",
    )


def _write_rfa_after_one_block(b: RecordBuilder) -> None:
    _record(
        b,
        side_words="Bilateral",
        blocks=[(-45, "bilateral", BOTH_LUMBOSACRAL)],
        plan="bilateral L4-L5 and L5-S1 radiofrequency ablation.",
    )


BILATERAL_RFA = Request("radiofrequency-ablation", "L4-L5,L5-S1", "bilateral")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lumbar-rfa-left-after-right-blocks",
        label="Left lumbar RFA after two right-sided medial branch blocks (the left was never blocked)",
        pathway="rfa-initial",
        person=Person(("Howard",), "Pruitt", "male", "1952-04-18", "Marion", "OH"),
        request=Request("radiofrequency-ablation", "L4-L5,L5-S1", "left"),
        expected={"verdict": "not-eligible", "criteria": {"RFA-01": "not-met", "RFA-02": "met", "RFA-03": "met"}},
        write=_write_left_rfa_after_right_blocks,
    ),
    Scenario(
        name="lumbar-rfa-bilateral-after-right-blocks",
        label="Bilateral lumbar RFA after two right-sided medial branch blocks only",
        pathway="rfa-initial",
        person=Person(("Louise",), "Caldwell", "female", "1954-09-03", "Sandusky", "OH"),
        request=BILATERAL_RFA,
        expected={"verdict": "not-eligible", "criteria": {"RFA-01": "not-met", "GEN-13": "met"}},
        write=_write_bilateral_rfa_after_right_blocks,
    ),
    Scenario(
        name="lumbar-rfa-untested-level",
        label="Lumbar RFA at L4-L5 and L5-S1 after blocks at L4-L5 only",
        pathway="rfa-initial",
        person=Person(("Gerald",), "Whitcomb", "male", "1950-01-27", "Elkhart", "IN"),
        request=BILATERAL_RFA,
        expected={"verdict": "not-eligible", "criteria": {"RFA-01": "not-met"}},
        write=_write_rfa_at_untested_level,
    ),
    Scenario(
        name="lumbar-mbb-left-after-right-block-ready",
        label="Left lumbar medial branch block after one right-sided block: a first block on the left",
        pathway="facet-diagnostic-first",
        person=Person(("Irene",), "Castillo", "female", "1956-06-14", "Kokomo", "IN"),
        request=Request("medial-branch-block", "L4-L5,L5-S1", "left", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"DX-03": "met", "DX-04": "met", "GEN-07": "met"},
            "coding": [
                {"code": "64493", "modifiers": ["KX", "LT"], "units": 1},
                {"code": "64494", "modifiers": ["KX", "LT"], "units": 1},
            ],
        },
        write=_write_left_block_after_right_block,
    ),
    Scenario(
        name="lumbar-rfa-after-one-block",
        label="Lumbar RFA after one medial branch block where two are required",
        pathway="rfa-initial",
        person=Person(("Walter",), "Kingsley", "male", "1951-11-08", "Bowling Green", "KY"),
        request=BILATERAL_RFA,
        expected={"verdict": "not-eligible", "criteria": {"RFA-01": "not-met", "RFA-02": "met"}},
        write=_write_rfa_after_one_block,
    ),
)
