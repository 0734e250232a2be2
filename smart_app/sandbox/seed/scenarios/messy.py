"""A messy but valid record, the way real EHR exports look (../shared/contracts/fhir-conventions.md):

ICD-10 codes without the dot, CPT under the old OID system, a SNOMED-only diagnosis, partial onset dates,
a pain range written as text, medications known only by text or by a clinical-drug code, scores in
valueInteger and effectivePeriod, a radiology report only in presentedForm, and resources that must be
ignored: an entered-in-error radiculopathy, a refuted fibromyalgia, an entered-in-error medial branch block
(which would otherwise make this request confirmatory), an entered-in-error disability score and an
entered-in-error MRI report from another patient's chart.
"""

from __future__ import annotations

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.spec import Person, Request, Scenario
from smart_app.sandbox.seed.timeline import day, moment


def _write(b: RecordBuilder) -> None:
    b.condition([vocab.coding(vocab.ICD10, "M47816")], None, onset="2025-03")
    b.condition(
        [vocab.snomed("278860009", "Chronic low back pain")],
        "chronic LBP",
        onset_period_start="2025-04",
        category="encounter-diagnosis",
    )
    b.condition(
        [vocab.coding(vocab.ICD10, "M5416")],
        "Radiculopathy, lumbar",
        onset="2026-08",
        verification="entered-in-error",
        note="Entered on the wrong patient.",
    )
    b.condition(
        [vocab.coding(vocab.ICD10, "M797")],
        "Fibromyalgia",
        onset="2026-02",
        clinical=None,
        verification="refuted",
        category="encounter-diagnosis",
        note="Ruled out by rheumatology: no widespread pain, no tender points.",
    )
    b.medication_statement(
        vocab.concept(text="Aleve (naproxen sodium) 220 mg, 2 tabs twice a day"),
        start="2025-05",
        end="2025-09",
        note="did not help much",
    )
    b.medication_request(
        vocab.concept(text="acetaminophen ER 650 mg q8h prn"),
        authored_on=day(-380),
        dosage="1 tab every 8 hours as needed",
        status="stopped",
    )
    b.medication_request(
        vocab.concept(vocab.rxnorm("206905", "Ibuprofen 400 MG Oral Tablet")),
        authored_on=day(-300),
        dosage="400 mg three times daily",
        status="stopped",
        note="Stopped for dyspepsia.",
    )
    for index, (code, text) in enumerate(
        [("97161", "PT eval"), ("97110", "ther ex"), ("97140", "manual tx"), ("97110", "ther ex"), ("97110", "ther ex")]
    ):
        b.procedure(
            code,
            text,
            system=vocab.CPT_OID,
            performed=moment(-330 + 7 * index, "14:00"),
            performed_end=moment(-330 + 7 * index, "14:45"),
            by_sandbox_user=False,
        )
    b.procedure(
        "64493",
        "Diagnostic bilateral L4-5 and L5-S1 medial branch block",
        performed=moment(-60, "08:00"),
        intent="diagnostic",
        status="entered-in-error",
        note="Documented on the wrong patient; no procedure was performed.",
    )
    b.score(vocab.PAIN_NRS, "pain", moment(-200, "10:00"), "2-8/10")
    b.score(vocab.ODI, "ODI", moment(-200, "10:05"), 12, unit="%", status="entered-in-error")
    b.imaging(
        modality="CR",
        when=day(-280),
        description="XR L-spine 2 views",
        conclusion="Mild degenerative change L4-5, L5-S1 facets. Alignment normal.",
        region="Lumbar spine",
    )
    b.imaging(
        modality="MR",
        when=day(-150),
        description="MR L-SPINE W/O",
        conclusion=None,
        presented_text="MRI LUMBAR SPINE WITHOUT CONTRAST\nIMPRESSION:\n1. Moderate facet arthropathy L4-5 and "
        "L5-S1.\n2. No spondylolisthesis.\n3. No disc herniation or nerve root impingement.\n",
        region="Lumbar spine",
    )
    b.imaging(
        modality="MR",
        when=day(-149),
        description="MR L-SPINE W/O",
        conclusion="L5-S1 disc extrusion compressing the left S1 nerve root.",
        region="Lumbar spine",
        report_status="entered-in-error",
    )
    encounter = b.encounter(start=moment(-20, "13:00"), end=moment(-20, "13:30"), reason="LBP")
    b.score(vocab.PAIN_NRS, "Pain score", moment(-20, "13:05"), 6, as_integer=True)
    b.score(vocab.ODI, "Oswestry", moment(-20, "13:10"), 38, unit="%", effective_period=True)
    b.note(
        when=moment(-20, "13:30"),
        title="Office visit",
        text="pt c/o LBP x 18 mo, axial, worse w/ extension, no leg sx. failed PT + NSAIDs + tylenol.\n"
        "NRS 6/10, ODI 38%.\nMRI: facet arthropathy L4-5, L5-S1.\n"
        "plan: dx MBB bilat L4-5 L5-S1\n",
        encounter=encounter,
    )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lumbar-mbb-messy-record-ready",
        label="Lumbar medial branch block, messy but valid record (odd codes, errors to ignore)",
        pathway="facet-diagnostic-first",
        person=Person(("Gloria",), "Fitzpatrick", "female", "1953-05-05", "Marion", "OH"),
        request=Request("medial-branch-block", "L4-L5,L5-S1", "bilateral", "diagnostic"),
        expected={
            "verdict": "ready",
            "criteria": {"GEN-02": "met", "GEN-03": "met", "GEN-04": "met", "GEN-07": "met", "GEN-09": "met"},
        },
        write=_write,
    ),
)
