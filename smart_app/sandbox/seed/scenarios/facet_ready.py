"""Facet patients who should be ready: first and confirmatory diagnostic blocks, initial and repeat RFA,
therapeutic injections with a documented reason RFA is not possible, and a cervical block.

Expectations come from ../shared/domain/policy-rules.md section A (criterion ids in `expected`).
"""

from __future__ import annotations

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.clinical import (
    clinic_visit,
    conservative_care,
    diagnostic_block,
    radiofrequency_ablation,
)
from smart_app.sandbox.seed.spec import Person, Request, Scenario
from smart_app.sandbox.seed.timeline import day

LUMBAR_SPONDYLOSIS = vocab.icd10("M47.816", "Spondylosis without myelopathy or radiculopathy, lumbar region")
LUMBOSACRAL_SPONDYLOSIS = vocab.icd10("M47.817", "Spondylosis without myelopathy or radiculopathy, lumbosacral region")
CERVICAL_SPONDYLOSIS = vocab.icd10("M47.812", "Spondylosis without myelopathy or radiculopathy, cervical region")
BOTH_LUMBOSACRAL = ["L4-L5", "L5-S1"]


def facet_diagnosis(b: RecordBuilder, onset: int, code: dict[str, str] = LUMBAR_SPONDYLOSIS) -> None:
    b.condition([code], code["display"], onset=day(onset), recorded=day(onset + 20))


def lumbar_mri(b: RecordBuilder, offset: int, conclusion: str) -> None:
    b.imaging(
        modality="MR",
        when=day(offset),
        description="MRI lumbar spine without contrast",
        conclusion=conclusion,
        region="Lumbar spine",
    )


def plain_facet_mri(b: RecordBuilder, offset: int, where: str) -> None:
    lumbar_mri(
        b,
        offset,
        f"Facet arthropathy at {where} with small joint effusions. No disc herniation. No spinal canal or "
        "foraminal stenosis. No spondylolisthesis. No fracture or marrow lesion.",
    )


def _write_first_left(b: RecordBuilder) -> None:
    facet_diagnosis(b, -330, LUMBOSACRAL_SPONDYLOSIS)
    conservative_care(b, start=-300, nsaid="naproxen")
    lumbar_mri(
        b,
        -200,
        "Left-predominant facet arthropathy at L4-L5 and L5-S1 with small joint effusions. No disc herniation. "
        "No spinal canal or foraminal stenosis. No spondylolisthesis. No fracture or marrow lesion.",
    )
    clinic_visit(
        b,
        offset=-21,
        reason="Chronic left-sided axial low back pain",
        pain=7,
        odi=46,
        note_title="Spine clinic consultation",
        note_lines=[
            "Spine clinic consultation: chronic left-sided axial low back pain.",
            "History: left low back pain for about 11 months, worse with standing, extension and rotation. "
            "Predominantly axial; no radiating leg pain, no numbness or weakness.",
            f"Conservative care: naproxen since {day(-300)}, acetaminophen, and 6 physical therapy visits, "
            "with inadequate relief.",
            "Scales: pain 7/10 on the 0-10 numeric rating scale (NRS); Oswestry Disability Index (ODI) 46 %.",
            "Exam: left paraspinal tenderness L4-S1, pain on extension-rotation to the left. Straight-leg raise "
            "negative. Strength, sensation and reflexes normal.",
            f"Imaging: MRI {day(-200)} shows left-predominant L4-L5 and L5-S1 facet arthropathy; no stenosis or "
            "nerve-root compression.",
            "Assessment: lumbosacral facet-mediated pain (M47.817).",
            "Plan: diagnostic left L4-L5 and L5-S1 medial branch blocks under fluoroscopy with local anesthetic "
            "only; pain diary on the same NRS.",
        ],
    )


def _write_confirmatory(b: RecordBuilder) -> None:
    facet_diagnosis(b, -420)
    conservative_care(b, start=-380, nsaid="ibuprofen", pt_sessions=8)
    plain_facet_mri(b, -250, "L4-L5 and L5-S1 bilaterally")
    clinic_visit(
        b,
        offset=-60,
        reason="Chronic axial low back pain",
        pain=7,
        odi=40,
        note_title="Spine clinic consultation",
        note_lines=[
            "Chronic bilateral axial low back pain for 14 months, worse with extension and prolonged standing; "
            "no leg pain.",
            "Failed ibuprofen, acetaminophen and 8 physical therapy visits.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 40 %.",
            "Neurological exam normal. Plan: diagnostic bilateral L4-L5 and L5-S1 medial branch blocks.",
        ],
    )
    diagnostic_block(
        b,
        offset=-30,
        levels=BOTH_LUMBOSACRAL,
        side="bilateral",
        baseline=7,
        after=[("08:30", 1), ("11:00", 1), ("15:00", 2)],
        follow_up=[(2, 7)],
    )
    clinic_visit(
        b,
        offset=-16,
        reason="Follow-up after diagnostic medial branch block",
        pain=7,
        note_title="Procedure follow-up",
        note_lines=[
            f"First diagnostic bilateral L4-L5 and L5-S1 medial branch block on {day(-30)}: NRS 7/10 before, "
            "1/10 at 30 minutes (86 % relief of the index pain), relief lasting about 7 hours, as expected for "
            "bupivacaine.",
            "Plan: confirmatory diagnostic block at the same levels, at least two weeks after the first.",
        ],
    )


def _write_rfa_initial(b: RecordBuilder) -> None:
    facet_diagnosis(b, -500)
    conservative_care(b, start=-450, nsaid="meloxicam")
    lumbar_mri(
        b,
        -300,
        "Right-predominant facet arthropathy at L4-L5 and L5-S1. No disc herniation. No spinal canal or "
        "foraminal stenosis. No spondylolisthesis.",
    )
    clinic_visit(
        b,
        offset=-110,
        reason="Chronic right-sided axial low back pain",
        pain=8,
        odi=48,
        note_title="Spine clinic consultation",
        note_lines=[
            "Right-sided axial low back pain for 13 months, worse with extension; no radicular symptoms.",
            "Failed meloxicam, acetaminophen and 6 physical therapy visits.",
            "Pain 8/10 (NRS 0-10); Oswestry Disability Index (ODI) 48 %.",
            "Plan: diagnostic right L4-L5 and L5-S1 medial branch blocks, then radiofrequency ablation if both "
            "give at least 80 % relief.",
        ],
    )
    for offset, after in ((-80, [("08:30", 1), ("12:00", 2)]), (-58, [("08:30", 0), ("12:00", 1)])):
        diagnostic_block(
            b, offset=offset, levels=BOTH_LUMBOSACRAL, side="right", baseline=8, after=after, follow_up=[(1, 8)]
        )
    clinic_visit(
        b,
        offset=-20,
        reason="Follow-up after diagnostic medial branch blocks",
        pain=8,
        odi=47,
        note_title="Procedure follow-up",
        note_lines=[
            f"Two diagnostic right L4-L5 and L5-S1 medial branch blocks ({day(-80)}: 8/10 to 1/10, 88 %; "
            f"{day(-58)}: 8/10 to 0/10, 100 %), each relief lasting the expected anesthetic duration.",
            "Plan: thermal radiofrequency ablation of the right L4-L5 and L5-S1 medial branches.",
        ],
    )


def _write_rfa_repeat(b: RecordBuilder) -> None:
    facet_diagnosis(b, -900)
    conservative_care(b, start=-850, nsaid="diclofenac")
    plain_facet_mri(b, -560, "L3-L4 and L4-L5 bilaterally")
    levels = ["L3-L4", "L4-L5"]
    clinic_visit(
        b,
        offset=-500,
        reason="Chronic axial low back pain",
        pain=8,
        odi=50,
        note_title="Spine clinic consultation",
        note_lines=[
            "Bilateral axial low back pain for 13 months; no leg pain. Failed diclofenac, acetaminophen and "
            "physical therapy.",
            "Pain 8/10 (NRS 0-10); Oswestry Disability Index (ODI) 50 %.",
            "Plan: diagnostic bilateral L3-L4 and L4-L5 medial branch blocks.",
        ],
    )
    diagnostic_block(
        b, offset=-470, levels=levels, side="bilateral", baseline=8, after=[("08:30", 1)], follow_up=[(1, 8)]
    )
    diagnostic_block(
        b, offset=-450, levels=levels, side="bilateral", baseline=8, after=[("08:30", 0)], follow_up=[(1, 8)]
    )
    radiofrequency_ablation(
        b,
        offset=-400,
        levels=levels,
        side="bilateral",
        baseline=8,
        follow_up=[(30, 2), (75, 3), (130, 2), (185, 3), (215, 3), (290, 7)],
    )
    clinic_visit(
        b,
        offset=-30,
        reason="Recurrent axial low back pain after radiofrequency ablation",
        pain=7,
        odi=44,
        note_title="Spine clinic follow-up",
        note_lines=[
            f"Thermal radiofrequency ablation of bilateral L3-L4 and L4-L5 medial branches on {day(-400)}: "
            "pain 8/10 before; 2-3/10 at 1, 2.5, 4, 6 and 7 months (at least 60 % relief for about 7 months).",
            "The same axial pain returned in July 2026; now 7/10 (NRS), ODI 44 %.",
            "Plan: repeat thermal radiofrequency ablation at the same levels.",
        ],
    )


def _write_therapeutic_stimulator(b: RecordBuilder) -> None:
    facet_diagnosis(b, -700)
    conservative_care(b, start=-650, nsaid="naproxen")
    b.device(
        name="Spinal cord stimulator",
        type_text="Implanted spinal cord stimulator (rechargeable pulse generator with thoracic epidural leads)",
        implanted=day(-1500),
    )
    b.imaging(
        modality="CT",
        when=day(-200),
        description="CT lumbar spine without contrast",
        conclusion="Bilateral facet arthropathy at L4-L5 and L5-S1 with joint space narrowing and osteophytes. "
        "No spondylolisthesis. No fracture. Spinal cord stimulator leads in the lower thoracic epidural space.",
        region="Lumbar spine",
    )
    clinic_visit(
        b,
        offset=-150,
        reason="Chronic axial low back pain",
        pain=7,
        odi=44,
        note_title="Spine clinic consultation",
        note_lines=[
            "Axial low back pain for 18 months, worse with extension; no leg symptoms.",
            "Failed naproxen, acetaminophen and 6 physical therapy visits.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 44 %.",
            "Plan: diagnostic bilateral L4-L5 and L5-S1 medial branch blocks.",
        ],
    )
    diagnostic_block(
        b, offset=-120, levels=BOTH_LUMBOSACRAL, side="bilateral", baseline=7, after=[("08:30", 1)], follow_up=[(1, 7)]
    )
    diagnostic_block(
        b, offset=-100, levels=BOTH_LUMBOSACRAL, side="bilateral", baseline=7, after=[("08:30", 0)], follow_up=[(1, 7)]
    )
    clinic_visit(
        b,
        offset=-25,
        reason="Facet-mediated low back pain; treatment planning",
        pain=7,
        note_title="Spine clinic follow-up",
        note_lines=[
            f"Two diagnostic bilateral L4-L5 and L5-S1 medial branch blocks ({day(-120)}: 86 % relief; "
            f"{day(-100)}: 100 % relief), each for the expected anesthetic duration.",
            "Not a candidate for radiofrequency ablation: implanted spinal cord stimulator (implanted electrical "
            "device).",
            "Plan: therapeutic bilateral L4-L5 and L5-S1 intra-articular facet injections with corticosteroid.",
        ],
    )


def _write_therapeutic_pseudarthrosis(b: RecordBuilder) -> None:
    levels = ["L3-L4", "L4-L5"]
    facet_diagnosis(b, -900)
    b.procedure(
        "22612",
        "Posterolateral lumbar arthrodesis (posterior fusion), L5-S1",
        performed=day(-2000),
        body_site="L5-S1",
        by_sandbox_user=False,
    )
    b.condition(
        [vocab.icd10("M96.0", "Pseudarthrosis after fusion or arthrodesis")],
        "Pseudarthrosis after fusion or arthrodesis",
        onset=day(-1300),
        body_site="L5-S1 posterolateral fusion",
    )
    conservative_care(b, start=-800, nsaid="celecoxib")
    b.imaging(
        modality="CT",
        when=day(-180),
        description="CT lumbar spine without contrast",
        conclusion="Established pseudarthrosis of the L5-S1 posterolateral fusion with lucency across the fusion "
        "mass; hardware intact. Right-predominant facet arthropathy at L3-L4 and L4-L5. No spondylolisthesis at "
        "L3-L4 or L4-L5. No fracture.",
        region="Lumbar spine",
    )
    clinic_visit(
        b,
        offset=-150,
        reason="Chronic right-sided axial low back pain",
        pain=7,
        odi=42,
        note_title="Spine clinic consultation",
        note_lines=[
            "Right-sided axial low back pain above a 2021 L5-S1 posterolateral fusion, for 2.5 years; no leg pain.",
            "Failed celecoxib, acetaminophen and 6 physical therapy visits.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 42 %.",
            "Plan: diagnostic right L3-L4 and L4-L5 medial branch blocks.",
        ],
    )
    diagnostic_block(b, offset=-120, levels=levels, side="right", baseline=7, after=[("08:30", 1)], follow_up=[(1, 7)])
    diagnostic_block(b, offset=-98, levels=levels, side="right", baseline=7, after=[("08:30", 1)], follow_up=[(1, 7)])
    clinic_visit(
        b,
        offset=-25,
        reason="Facet-mediated low back pain; treatment planning",
        pain=7,
        note_title="Spine clinic follow-up",
        note_lines=[
            f"Two diagnostic right L3-L4 and L4-L5 medial branch blocks ({day(-120)} and {day(-98)}), each 7/10 to "
            "1/10 (86 % relief) for the expected anesthetic duration.",
            "Not a candidate for radiofrequency ablation: established spinal pseudarthrosis at L5-S1 (M96.0).",
            "Plan: therapeutic right L3-L4 and L4-L5 intra-articular facet injections with corticosteroid.",
        ],
    )


def _write_cervical(b: RecordBuilder) -> None:
    facet_diagnosis(b, -400, CERVICAL_SPONDYLOSIS)
    b.condition(
        [vocab.snomed("1121000119107", "Chronic neck pain"), vocab.icd10("M54.2", "Cervicalgia")],
        "Chronic neck pain",
        onset=day(-400),
    )
    conservative_care(b, start=-360, nsaid="celecoxib", pt_reason="chronic axial neck pain")
    b.imaging(
        modality="MR",
        when=day(-150),
        description="MRI cervical spine without contrast",
        conclusion="Left C3-C4 and C4-C5 facet arthropathy with mild joint effusion. No disc herniation. No spinal "
        "cord or nerve root compression. No foraminal stenosis.",
        region="Cervical spine",
    )
    clinic_visit(
        b,
        offset=-20,
        reason="Chronic left-sided axial neck pain",
        pain=6,
        ndi=38,
        note_title="Spine clinic consultation",
        note_lines=[
            "Left-sided axial neck pain for 13 months, worse with extension and rotation to the left; no arm pain, "
            "numbness or weakness.",
            "Failed celecoxib, acetaminophen and 6 physical therapy visits.",
            "Pain 6/10 (NRS 0-10); Neck Disability Index (NDI) 38 %.",
            "Plan: diagnostic left C3-C4 and C4-C5 medial branch blocks under fluoroscopy.",
        ],
    )


def _lines(code: str, modifiers: list[str], next_code: str) -> list[dict[str, object]]:
    return [
        {"code": code, "modifiers": modifiers, "units": 1},
        {"code": next_code, "modifiers": modifiers, "units": 1},
    ]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lumbar-mbb-first-left-ready",
        label="Lumbar medial branch block, first diagnostic, left L4-L5 and L5-S1",
        pathway="facet-diagnostic-first",
        person=Person(("Dorothy", "Ann"), "Whitfield", "female", "1954-02-11", "Dayton", "OH"),
        request=Request("medial-branch-block", "L4-L5,L5-S1", "left", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {
                "GEN-02": "met",
                "GEN-03": "met",
                "GEN-04": "met",
                "GEN-07": "met",
                "GEN-09": "met",
                "GEN-10": "met",
                "GEN-13": "met",
                "DX-03": "met",
            },
            "coding": _lines("64493", ["KX", "LT"], "64494"),
            "diagnoses_include": ["M47.817"],
        },
        write=_write_first_left,
    ),
    Scenario(
        name="lumbar-mbb-confirmatory-bilateral-ready",
        label="Lumbar medial branch block, confirmatory after 86 % relief",
        pathway="facet-diagnostic-confirmatory",
        person=Person(("Raymond",), "Okafor", "male", "1951-07-23", "Columbus", "OH"),
        request=Request("medial-branch-block", "L4-L5,L5-S1", "bilateral", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"DX-03": "met", "DX2-02": "met", "DX2-03": "met", "DX2-04": "met"},
            "coding": _lines("64493", ["50", "KX"], "64494"),
        },
        write=_write_confirmatory,
    ),
    Scenario(
        name="lumbar-rfa-initial-right-ready",
        label="Lumbar radiofrequency ablation, initial, after two ≥ 80 % blocks",
        pathway="rfa-initial",
        person=Person(("Evelyn",), "Marsh", "female", "1956-10-02", "Lexington", "KY"),
        request=Request("radiofrequency-ablation", "L4-L5,L5-S1", "right"),
        expected={
            "verdict": "ready",
            "criteria": {"GEN-13": "met", "RFA-01": "met", "RFA-02": "met", "RFA-03": "met"},
            "coding": _lines("64635", ["RT"], "64636"),
        },
        write=_write_rfa_initial,
    ),
    Scenario(
        name="lumbar-rfa-repeat-sustained-relief-ready",
        label="Lumbar radiofrequency ablation, repeat after 7 months of ≥ 50 % relief",
        pathway="rfa-repeat",
        person=Person(("George",), "Castellano", "male", "1949-05-30", "Toledo", "OH"),
        request=Request("radiofrequency-ablation", "L3-L4,L4-L5", "bilateral"),
        expected={
            "verdict": "ready",
            "criteria": {"RFAR-01": "met", "RFAR-02": "met"},
            "coding": _lines("64635", ["50"], "64636"),
        },
        write=_write_rfa_repeat,
    ),
    Scenario(
        name="lumbar-facet-therapeutic-stimulator-ready",
        label="Therapeutic lumbar facet injection, not an RFA candidate (spinal cord stimulator)",
        pathway="facet-therapeutic",
        person=Person(("Patricia",), "Holloway", "female", "1952-12-08", "Louisville", "KY"),
        request=Request("facet-injection", "L4-L5,L5-S1", "bilateral", "therapeutic"),
        expected={
            "verdict": "ready",
            "criteria": {"TX-01": "met", "TX-03": "met", "TX-04": "met"},
            "coding": _lines("64493", ["50"], "64494"),
        },
        write=_write_therapeutic_stimulator,
    ),
    Scenario(
        name="lumbar-facet-therapeutic-pseudarthrosis-ready",
        label="Therapeutic lumbar facet injection, not an RFA candidate (pseudarthrosis M96.0)",
        pathway="facet-therapeutic",
        person=Person(("Samuel",), "Ortiz", "male", "1955-03-17", "Cincinnati", "OH"),
        request=Request("facet-injection", "L3-L4,L4-L5", "right", "therapeutic"),
        expected={
            "verdict": "ready",
            "criteria": {"GEN-10": "met", "TX-01": "met", "TX-03": "met"},
            "coding": _lines("64493", ["RT"], "64494"),
        },
        write=_write_therapeutic_pseudarthrosis,
    ),
    Scenario(
        name="cervical-mbb-left-two-level-ready",
        label="Cervical medial branch block, first diagnostic, left C3-C4 and C4-C5",
        pathway="facet-diagnostic-first",
        person=Person(("Margaret",), "Ellison", "female", "1957-08-29", "Fort Wayne", "IN"),
        request=Request("medial-branch-block", "C3-C4,C4-C5", "left", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"GEN-02": "met", "GEN-04": "met", "GEN-07": "met", "GEN-13": "met"},
            "coding": _lines("64490", ["KX", "LT"], "64491"),
            "diagnoses_include": ["M47.812"],
        },
        write=_write_cervical,
    ),
)
