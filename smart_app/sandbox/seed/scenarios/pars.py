"""Pars interarticularis injection patients (../shared/domain/policy-rules.md section E).

Two adults with chronic bilateral defects who should be ready (with and without isthmic bone marrow edema:
the edema raises the expected response, E.1/PARS-05), an adolescent with an acute incomplete defect (healing
potential, bracing first: PARS-03), and an adult with dynamic instability on flexion-extension films (PARS-01).
"""

from __future__ import annotations

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import Modality, RecordBuilder
from smart_app.sandbox.seed.clinical import clinic_visit, conservative_care
from smart_app.sandbox.seed.spec import BLUEBELL_PPO, Payer, Person, Request, Scenario
from smart_app.sandbox.seed.timeline import day

LOW_BACK_PAIN = [vocab.snomed("279039007", "Low back pain"), vocab.icd10("M54.50", "Low back pain, unspecified")]
PARS_CODING = [{"code": "64493", "modifiers_include": ["50"], "units": 1}]


def _spine_image(b: RecordBuilder, modality: Modality, offset: int, description: str, conclusion: str) -> None:
    b.imaging(
        modality=modality,
        when=day(offset),
        description=description,
        conclusion=conclusion,
        region="Lumbar spine",
    )


def _flexion_extension(b: RecordBuilder, offset: int, conclusion: str, *, unstable: bool = False) -> None:
    b.imaging(
        modality="DX",
        when=day(offset),
        description="Lumbar spine radiographs with flexion and extension views",
        conclusion=conclusion,
        region="Lumbar spine",
        conclusion_codes=[vocab.snomed(*vocab.SPINAL_INSTABILITY)] if unstable else (),
    )


def _write_edema(b: RecordBuilder) -> None:
    b.condition(
        [vocab.icd10("M43.06", "Spondylolysis, lumbar region")],
        "Spondylolysis, lumbar region",
        onset=day(-800),
        body_site="L4 pars interarticularis, bilateral",
    )
    b.condition(LOW_BACK_PAIN, "Chronic low back pain", onset=day(-800))
    conservative_care(b, start=-400, nsaid="ibuprofen", pt_sessions=8, pt_reason="low back pain from L4 spondylolysis")
    _spine_image(
        b,
        "CT",
        -160,
        "CT lumbar spine without contrast",
        "Bilateral L4 pars interarticularis defects with sclerotic, corticated margins, consistent with chronic "
        "spondylolysis. No spondylolisthesis. No other fracture.",
    )
    _flexion_extension(
        b,
        -150,
        "No spondylolisthesis. No abnormal translation or angulation between flexion and extension; "
        "without instability.",
    )
    _spine_image(
        b,
        "MR",
        -45,
        "MRI lumbar spine without contrast",
        "Bilateral L4 spondylolysis with isthmic bone marrow edema: STIR hyperintensity at both L4 pars "
        "interarticularis. No spondylolisthesis. No disc herniation. No nerve root compression.",
    )
    clinic_visit(
        b,
        offset=-30,
        reason="Chronic low back pain from bilateral L4 spondylolysis",
        pain=6,
        odi=34,
        note_title="Spine clinic consultation",
        note_lines=[
            "Axial low back pain for over 2 years from bilateral L4 spondylolysis; no leg pain, neurological exam "
            "normal.",
            "Refractory to ibuprofen, acetaminophen and 8 physical therapy visits.",
            "Pain 6/10 (NRS 0-10); Oswestry Disability Index (ODI) 34 %.",
            f"Imaging: chronic bilateral L4 pars defects on CT ({day(-160)}); isthmic bone marrow edema on MRI "
            f"({day(-45)}); no instability on flexion-extension films.",
            "Plan: bilateral L4 pars interarticularis injections (corticosteroid with local anesthetic), NRS before "
            "and after on the same scale.",
        ],
    )


def _write_no_edema(b: RecordBuilder) -> None:
    b.condition(
        [vocab.icd10("M43.07", "Spondylolysis, lumbosacral region")],
        "Spondylolysis, lumbosacral region",
        onset=day(-1200),
        body_site="L5 pars interarticularis, bilateral",
    )
    b.condition(LOW_BACK_PAIN, "Chronic low back pain", onset=day(-1200))
    conservative_care(b, start=-500, nsaid="naproxen", pt_sessions=10, pt_reason="low back pain from L5 spondylolysis")
    _spine_image(
        b,
        "CT",
        -170,
        "CT lumbar spine without contrast",
        "Chronic bilateral L5 pars interarticularis defects with sclerotic margins. No spondylolisthesis.",
    )
    _spine_image(
        b,
        "MR",
        -60,
        "MRI lumbar spine without contrast",
        "Bilateral L5 spondylolysis. No bone marrow edema at the pars interarticularis; negative for edema on "
        "STIR. No spondylolisthesis. Mild L5-S1 disc desiccation without herniation.",
    )
    _flexion_extension(b, -55, "No dynamic instability between flexion and extension. No spondylolisthesis.")
    clinic_visit(
        b,
        offset=-28,
        reason="Chronic low back pain from bilateral L5 spondylolysis",
        pain=6,
        odi=30,
        note_title="Spine clinic consultation",
        note_lines=[
            "Axial low back pain for more than 3 years from bilateral L5 spondylolysis; no radicular pain.",
            "Refractory to naproxen, acetaminophen and 10 physical therapy visits.",
            "Pain 6/10 (NRS 0-10); Oswestry Disability Index (ODI) 30 %.",
            "Plan: bilateral L5 pars interarticularis injections, NRS before and after.",
        ],
    )


def _write_adolescent(b: RecordBuilder) -> None:
    b.condition(
        [vocab.icd10("M43.06", "Spondylolysis, lumbar region")],
        "Spondylolysis, lumbar region: acute bilateral L5 pars stress reaction",
        onset=day(-140),
        body_site="L5 pars interarticularis, bilateral",
    )
    b.condition(LOW_BACK_PAIN, "Low back pain", onset=day(-140))
    conservative_care(
        b, start=-120, nsaid="ibuprofen", pt_sessions=6, acetaminophen=False, pt_reason="activity-related low back pain"
    )
    _spine_image(
        b,
        "MR",
        -40,
        "MRI lumbar spine without contrast",
        "Bilateral L5 pars interarticularis stress reaction with bone marrow edema on STIR extending into the "
        "pedicles; incomplete (pre-lysis) defects. No spondylolisthesis. Discs normal.",
    )
    _spine_image(
        b,
        "CT",
        -35,
        "CT lumbar spine, limited, low dose",
        "Incomplete bilateral L5 pars interarticularis fractures without sclerotic margins, consistent with "
        "acute/subacute spondylolysis. No spondylolisthesis.",
    )
    clinic_visit(
        b,
        offset=-20,
        reason="Activity-related low back pain, acute L5 pars stress reaction",
        pain=6,
        odi=28,
        note_title="Pediatric spine consultation",
        note_lines=[
            "15-year-old competitive gymnast with 4.5 months of activity-related low back pain; no leg pain, "
            "neurological exam normal.",
            "Ibuprofen and 6 physical therapy visits with partial relief.",
            "Pain 6/10 (NRS 0-10); Oswestry Disability Index (ODI) 28 %.",
            "Imaging: acute, incomplete bilateral L5 pars defects with marrow edema (healing potential).",
            "Plan discussed: activity restriction and a lumbosacral brace first, repeat imaging in 3 months. "
            "Family asked about a pars injection.",
        ],
    )


def _write_instability(b: RecordBuilder) -> None:
    b.condition(
        [vocab.icd10("M43.17", "Spondylolisthesis, lumbosacral region")],
        "Spondylolisthesis, lumbosacral region",
        onset=day(-1500),
        body_site="L5 isthmic spondylolisthesis",
    )
    b.condition(
        [vocab.icd10("M53.2X7", "Spinal instabilities, lumbosacral region")],
        "Spinal instabilities, lumbosacral region",
        onset=day(-60),
    )
    b.condition(LOW_BACK_PAIN, "Chronic low back pain", onset=day(-1500))
    conservative_care(
        b, start=-700, nsaid="naproxen", pt_sessions=8, pt_reason="low back pain from L5 spondylolisthesis"
    )
    _spine_image(
        b,
        "CT",
        -300,
        "CT lumbar spine without contrast",
        "Bilateral L5 pars defects with sclerotic margins and grade 1 isthmic spondylolisthesis of L5 on S1.",
    )
    _flexion_extension(
        b,
        -60,
        "Grade 1 anterolisthesis of L5 on S1 measuring 6 mm in extension and 11 mm in flexion, consistent with "
        "dynamic instability.",
        unstable=True,
    )
    clinic_visit(
        b,
        offset=-25,
        reason="Chronic low back pain, L5 isthmic spondylolisthesis",
        pain=7,
        odi=42,
        note_title="Spine clinic consultation",
        note_lines=[
            "Mechanical axial low back pain for 4 years from L5 isthmic spondylolisthesis; no leg pain.",
            "Failed naproxen, acetaminophen and 8 physical therapy visits.",
            "Pain 7/10 (NRS 0-10); Oswestry Disability Index (ODI) 42 %.",
            "Flexion-extension films: 5 mm of additional translation at L5-S1 (dynamic instability).",
            "Pars injection requested; surgical opinion pending.",
        ],
    )


ADOLESCENT_PAYER = Payer(
    display=BLUEBELL_PPO.display,
    plan=BLUEBELL_PPO.plan,
    medicare=False,
    relationship="child",
    subscriber="Carmen Reyes",
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="pars-chronic-defect-edema-ready",
        label="Pars injection, chronic bilateral L4 defect with isthmic marrow edema (higher outlook)",
        pathway="pars-injection",
        person=Person(("Daniel",), "Kowalski", "male", "1974-06-14", "Akron", "OH"),
        request=Request("pars-injection", "L4", "bilateral", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"PARS-01": "met", "PARS-02": "met", "PARS-03": "met"},
            "outlook_rate": [0.65, 0.75],
            "coding": PARS_CODING,
            "diagnoses_include": ["M43.06"],
            "warnings_nonempty": True,
        },
        write=_write_edema,
    ),
    Scenario(
        name="pars-chronic-defect-no-edema-ready",
        label="Pars injection, chronic bilateral L5 defect without marrow edema",
        pathway="pars-injection",
        person=Person(("Ruth",), "Abernathy", "female", "1969-01-25", "Dayton", "OH"),
        request=Request("pars-injection", "L5", "bilateral", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"PARS-01": "met", "PARS-02": "met", "PARS-03": "met"},
            "coding": PARS_CODING,
            "diagnoses_include": ["M43.07"],
            "warnings_nonempty": True,
        },
        write=_write_no_edema,
    ),
    Scenario(
        name="pars-adolescent-acute-defect-bracing",
        label="Pars injection, adolescent with an acute incomplete defect (bracing first)",
        pathway="pars-injection",
        person=Person(("Sofia",), "Reyes", "female", "2011-04-09", "Bloomington", "IN"),
        payer=ADOLESCENT_PAYER,
        request=Request("pars-injection", "L5", "bilateral", "diagnostic"),
        expected={"verdict": "not-eligible", "criteria": {"PARS-03": "not-met"}},
        write=_write_adolescent,
    ),
    Scenario(
        name="pars-dynamic-instability",
        label="Pars injection with instability on flexion-extension films",
        pathway="pars-injection",
        person=Person(("Frank",), "Delgado", "male", "1962-09-03", "Evansville", "IN"),
        request=Request("pars-injection", "L5", "bilateral", "diagnostic"),
        expected={"verdict": "not-eligible", "criteria": {"PARS-01": "not-met"}},
        write=_write_instability,
    ),
)
