"""Facet patients who should fail (or need documentation), each for exactly one reason in
../shared/domain/policy-rules.md section A, plus one whose radiculopathy is lifted by a facet synovial cyst.

Every record otherwise carries what a ready patient has (axial diagnosis > 3 months, conservative care,
imaging, pain and disability scores), so the one criterion named in `expected` is what decides.
"""

from __future__ import annotations

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.clinical import clinic_visit, conservative_care, diagnostic_block, radiofrequency_ablation
from smart_app.sandbox.seed.scenarios.facet_ready import BOTH_LUMBOSACRAL, facet_diagnosis, lumbar_mri, plain_facet_mri
from smart_app.sandbox.seed.spec import Person, Request, Scenario
from smart_app.sandbox.seed.timeline import day

BILATERAL_MBB = Request("medial-branch-block", "L4-L5,L5-S1", "bilateral", "diagnostic")


def _consult(b: RecordBuilder, *, offset: int = -20, pain: int = 7, odi: int | None = 42, history: str) -> None:
    lines = [history, f"Pain {pain}/10 (NRS 0-10)" + (f"; Oswestry Disability Index (ODI) {odi} %." if odi else ".")]
    lines.append("Plan: diagnostic bilateral L4-L5 and L5-S1 medial branch blocks.")
    clinic_visit(
        b,
        offset=offset,
        reason="Chronic low back pain",
        pain=pain,
        odi=odi,
        note_title="Spine clinic consultation",
        note_lines=lines,
    )


def _write_radiculopathy(b: RecordBuilder) -> None:
    facet_diagnosis(b, -500)
    b.condition(
        [vocab.icd10("M51.17", "Intervertebral disc disorders with radiculopathy, lumbosacral region")],
        "Lumbosacral disc disorder with radiculopathy",
        onset=day(-90),
    )
    conservative_care(b, start=-450, nsaid="naproxen")
    lumbar_mri(
        b,
        -80,
        "Facet arthropathy at L4-L5 and L5-S1. Right paracentral L5-S1 disc extrusion compressing the traversing "
        "right S1 nerve root.",
    )
    _consult(
        b,
        odi=44,
        history="Low back pain for 16 months; for 3 months also right leg pain radiating below the knee to the "
        "lateral foot, positive straight-leg raise on the right, reduced right ankle reflex. The radiculopathy "
        "has not been treated.",
    )


def _write_synovial_cyst(b: RecordBuilder) -> None:
    facet_diagnosis(b, -400)
    b.condition(
        [vocab.icd10("M54.16", "Radiculopathy, lumbar region")],
        "Radiculopathy, lumbar region",
        onset=day(-100),
        note="Right L5 radiculopathy caused by the right L4-L5 facet synovial cyst.",
    )
    conservative_care(b, start=-360, nsaid="meloxicam")
    lumbar_mri(
        b,
        -90,
        "Right L4-L5 facet synovial cyst (7 mm) arising from the right L4-L5 facet joint, narrowing the right "
        "lateral recess and contacting the traversing right L5 nerve root. Moderate right L4-L5 facet arthropathy "
        "with effusion. No disc herniation. No spondylolisthesis.",
    )
    clinic_visit(
        b,
        offset=-20,
        reason="Right-sided low back pain, L4-L5 facet synovial cyst",
        pain=7,
        odi=40,
        note_title="Spine clinic consultation",
        note_lines=[
            "Predominantly axial right low back pain for 13 months, worse with extension; intermittent right L5 "
            "leg symptoms for 3 months attributed to the right L4-L5 facet synovial cyst seen on MRI.",
            "Failed meloxicam, acetaminophen and 6 physical therapy visits.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 40 %.",
            "Plan: diagnostic right L4-L5 medial branch block.",
        ],
    )


def _write_short_history(b: RecordBuilder) -> None:
    facet_diagnosis(b, -55)
    conservative_care(b, start=-50, nsaid="naproxen", pt_sessions=4, acetaminophen=False)
    plain_facet_mri(b, -30, "L4-L5 and L5-S1 bilaterally")
    _consult(
        b,
        offset=-10,
        odi=40,
        history="Axial low back pain that began about 8 weeks ago without injury; no leg pain. Naproxen and 4 "
        "physical therapy visits so far.",
    )


def _write_after_alif(b: RecordBuilder) -> None:
    facet_diagnosis(b, -900)
    b.procedure(
        "22558",
        "Anterior lumbar interbody fusion (ALIF), L5-S1",
        performed=day(-2035),
        body_site="L5-S1",
        by_sandbox_user=False,
    )
    b.condition([vocab.icd10("Z98.1", "Arthrodesis status")], "Arthrodesis status", onset=day(-2035))
    conservative_care(b, start=-850, nsaid="naproxen")
    b.imaging(
        modality="CT",
        when=day(-200),
        description="CT lumbar spine without contrast",
        conclusion="Solid anterior interbody fusion at L5-S1 with intact hardware. Facet arthropathy at L4-L5 and "
        "L5-S1. No spondylolisthesis. No fracture.",
        region="Lumbar spine",
    )
    _consult(
        b,
        history="Axial low back pain for 2.5 years, five years after an L5-S1 anterior lumbar interbody fusion; "
        "no leg pain. Failed naproxen, acetaminophen and physical therapy.",
    )


def _write_fibromyalgia(b: RecordBuilder) -> None:
    facet_diagnosis(b, -600)
    b.condition([vocab.icd10("M79.7", "Fibromyalgia")], "Fibromyalgia", onset=day(-2900))
    conservative_care(b, start=-550, nsaid="naproxen")
    plain_facet_mri(b, -300, "L4-L5 and L5-S1 bilaterally")
    _consult(
        b,
        history="Low back pain for 20 months on a background of fibromyalgia with widespread pain. Failed "
        "naproxen, acetaminophen and physical therapy.",
    )


def _write_confirmatory_partial_relief(b: RecordBuilder) -> None:
    facet_diagnosis(b, -380)
    conservative_care(b, start=-340, nsaid="ibuprofen")
    plain_facet_mri(b, -220, "L4-L5 and L5-S1 bilaterally")
    _consult(
        b,
        offset=-60,
        pain=8,
        odi=46,
        history="Bilateral axial low back pain for a year; no leg pain. Failed ibuprofen, acetaminophen and "
        "physical therapy.",
    )
    diagnostic_block(
        b,
        offset=-28,
        levels=BOTH_LUMBOSACRAL,
        side="bilateral",
        baseline=8,
        after=[("08:30", 4), ("11:00", 3)],
        follow_up=[(2, 8)],
    )


def _write_repeat_rfa_short_relief(b: RecordBuilder) -> None:
    facet_diagnosis(b, -700)
    conservative_care(b, start=-650, nsaid="naproxen")
    plain_facet_mri(b, -480, "L4-L5 and L5-S1 bilaterally")
    _consult(
        b,
        offset=-430,
        pain=8,
        odi=48,
        history="Axial low back pain for 9 months; no leg pain. Failed naproxen, acetaminophen and physical therapy.",
    )
    for offset in (-400, -380):
        diagnostic_block(
            b,
            offset=offset,
            levels=BOTH_LUMBOSACRAL,
            side="bilateral",
            baseline=8,
            after=[("08:30", 1)],
            follow_up=[(1, 8)],
        )
    radiofrequency_ablation(
        b,
        offset=-270,
        levels=BOTH_LUMBOSACRAL,
        side="bilateral",
        baseline=8,
        follow_up=[(30, 3), (60, 4), (95, 7), (150, 7)],
    )
    clinic_visit(
        b,
        offset=-20,
        reason="Recurrent axial low back pain after radiofrequency ablation",
        pain=7,
        odi=44,
        note_title="Spine clinic follow-up",
        note_lines=[
            f"Thermal radiofrequency ablation of bilateral L4-L5 and L5-S1 medial branches on {day(-270)}: relief "
            "of 50-60 % for about two months, then the pain returned.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 44 %.",
            "Patient asks for a repeat ablation at the same levels.",
        ],
    )


def _write_no_disability_scale(b: RecordBuilder) -> None:
    facet_diagnosis(b, -420)
    conservative_care(b, start=-380, nsaid="naproxen")
    plain_facet_mri(b, -200, "L4-L5 and L5-S1 bilaterally")
    _consult(
        b,
        odi=None,
        history="Bilateral axial low back pain for 14 months, worse with extension; no leg pain. Failed naproxen, "
        "acetaminophen and physical therapy.",
    )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lumbar-mbb-disc-radiculopathy",
        label="Lumbar medial branch block with untreated radiculopathy (disc extrusion)",
        pathway="facet-diagnostic-first",
        person=Person(("Thomas",), "Brennan", "male", "1953-11-19", "Springfield", "OH"),
        request=BILATERAL_MBB,
        expected={"verdict": "not-eligible", "criteria": {"GEN-04": "not-met"}},
        write=_write_radiculopathy,
    ),
    Scenario(
        name="lumbar-mbb-synovial-cyst-radiculopathy-ready",
        label="Lumbar medial branch block, radiculopathy from a facet synovial cyst (exclusion lifted)",
        pathway="facet-diagnostic-first",
        person=Person(("Helen",), "Voss", "female", "1950-06-06", "Muncie", "IN"),
        request=Request("medial-branch-block", "L4-L5", "right", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"GEN-04": "met"},
            "coding": [{"code": "64493", "modifiers": ["KX", "RT"], "units": 1}],
        },
        write=_write_synovial_cyst,
    ),
    Scenario(
        name="lumbar-mbb-history-under-3-months",
        label="Lumbar medial branch block after 8 weeks of pain (too short)",
        pathway="facet-diagnostic-first",
        person=Person(("Kevin",), "Adeyemi", "male", "1958-01-30", "Terre Haute", "IN"),
        request=BILATERAL_MBB,
        expected={"verdict": "not-eligible", "criteria": {"GEN-02": "not-met"}},
        write=_write_short_history,
    ),
    Scenario(
        name="lumbar-mbb-after-alif",
        label="Lumbar medial branch block after an L5-S1 anterior lumbar interbody fusion",
        pathway="facet-diagnostic-first",
        person=Person(("Barbara",), "Lindqvist", "female", "1955-09-12", "Lafayette", "IN"),
        request=BILATERAL_MBB,
        expected={"verdict": "not-eligible", "criteria": {"GEN-10": "not-met"}},
        write=_write_after_alif,
    ),
    Scenario(
        name="lumbar-mbb-fibromyalgia",
        label="Lumbar medial branch block with fibromyalgia (generalized pain)",
        pathway="facet-diagnostic-first",
        person=Person(("Joyce",), "Hammond", "female", "1959-04-04", "Mansfield", "OH"),
        request=BILATERAL_MBB,
        expected={"verdict": "not-eligible", "criteria": {"GEN-09": "not-met"}},
        write=_write_fibromyalgia,
    ),
    Scenario(
        name="lumbar-mbb-confirmatory-partial-relief",
        label="Confirmatory lumbar medial branch block after only 62 % relief",
        pathway="facet-diagnostic-confirmatory",
        person=Person(("Arthur",), "Pennington", "male", "1950-12-01", "Zanesville", "OH"),
        request=BILATERAL_MBB,
        expected={"verdict": "not-eligible", "criteria": {"DX2-02": "not-met", "DX2-03": "met"}},
        write=_write_confirmatory_partial_relief,
    ),
    Scenario(
        name="lumbar-rfa-repeat-short-relief",
        label="Repeat lumbar radiofrequency ablation after only 2 months of relief",
        pathway="rfa-repeat",
        person=Person(("Irene",), "Kaplan", "female", "1948-08-15", "Bowling Green", "KY"),
        request=Request("radiofrequency-ablation", "L4-L5,L5-S1", "bilateral"),
        expected={"verdict": "not-eligible", "criteria": {"RFAR-01": "not-met", "RFAR-02": "met"}},
        write=_write_repeat_rfa_short_relief,
    ),
    Scenario(
        name="lumbar-mbb-no-disability-scale",
        label="Lumbar medial branch block without any disability score",
        pathway="facet-diagnostic-first",
        person=Person(("Victor",), "Mensah", "male", "1957-02-20", "Richmond", "IN"),
        request=BILATERAL_MBB,
        expected={"verdict": "needs-documentation", "criteria": {"GEN-07": "unknown"}},
        write=_write_no_disability_scale,
    ),
)
