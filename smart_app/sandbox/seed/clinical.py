"""Clinical episodes built from several resources: conservative care, a clinic visit, a facet block with the
pain scores around it, a radiofrequency ablation with its follow-up scores.

Scores follow ../shared/contracts/fhir-conventions.md: the baseline is taken the same morning before the
procedure (inside the 30-day window), post-procedure scores within the first 12 hours point at the Procedure
with `partOf`, later follow-up scores are found by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.timeline import day, moment

Side = Literal["bilateral", "left", "right"]
Region = Literal["lumbar", "cervical"]
Nsaid = Literal["naproxen", "ibuprofen", "meloxicam", "celecoxib", "diclofenac"]

# RxNorm ingredient codes (fhir-conventions.md) with a typical prescription.
NSAIDS: dict[str, tuple[str, str]] = {
    "naproxen": ("7258", "Naproxen 500 mg by mouth twice daily with food"),
    "ibuprofen": ("5640", "Ibuprofen 600 mg by mouth three times daily with food"),
    "meloxicam": ("41493", "Meloxicam 15 mg by mouth once daily"),
    "celecoxib": ("140587", "Celecoxib 200 mg by mouth once daily"),
    "diclofenac": ("3355", "Diclofenac 75 mg by mouth twice daily"),
}
ACETAMINOPHEN = ("161", "acetaminophen")

PT_VISITS = (
    ("97110", "Physical therapy: therapeutic exercise"),
    ("97140", "Physical therapy: manual therapy"),
    ("97530", "Physical therapy: therapeutic activities"),
)


def levels_phrase(levels: Sequence[str]) -> str:
    """`["L4-L5", "L5-S1"]` → `L4-L5 and L5-S1`."""
    return " and ".join(levels)


def first_level_cpt(region: Region, *, ablation: bool) -> str:
    """The CPT code of the first level (64490/64493 injection, 64633/64635 ablation)."""
    if ablation:
        return "64633" if region == "cervical" else "64635"
    return "64490" if region == "cervical" else "64493"


def conservative_care(
    b: RecordBuilder,
    *,
    start: int,
    nsaid: Nsaid = "naproxen",
    pt_sessions: int = 6,
    acetaminophen: bool = True,
    pt_reason: str = "chronic axial low back pain",
) -> None:
    """An NSAID order, an acetaminophen trial (patient-reported), and a physical therapy course (one
    evaluation, then weekly visits), all starting `start` days from the anchor and answered inadequately."""
    code, dosage = NSAIDS[nsaid]
    b.medication_request(
        vocab.concept(vocab.rxnorm(code, nsaid), text=nsaid),
        authored_on=day(start),
        dosage=dosage,
        note="Partial relief only; pain persists with standing and extension.",
    )
    if acetaminophen:
        b.medication_statement(
            vocab.concept(vocab.rxnorm(*ACETAMINOPHEN), text="acetaminophen 1000 mg up to three times daily"),
            start=day(start - 21),
            end=day(start + 60),
            note="Taken regularly for two months with little benefit.",
        )
    if pt_sessions:
        b.procedure(
            "97161",
            f"Physical therapy evaluation for {pt_reason}",
            performed=day(start + 7),
            by_sandbox_user=False,
        )
        for index in range(pt_sessions - 1):
            code_pt, text = PT_VISITS[index % len(PT_VISITS)]
            b.procedure(code_pt, text, performed=day(start + 14 + 7 * index), by_sandbox_user=False)


def clinic_visit(
    b: RecordBuilder,
    *,
    offset: int,
    reason: str,
    note_title: str,
    note_lines: Sequence[str],
    pain: int | None = None,
    odi: int | None = None,
    ndi: int | None = None,
) -> str:
    """An office visit with the scores taken at it and the signed visit note; returns the Encounter."""
    encounter = b.encounter(start=moment(offset, "09:00"), end=moment(offset, "09:40"), reason=reason)
    if pain is not None:
        b.pain(moment(offset, "09:05"), pain)
    if odi is not None:
        b.odi(moment(offset, "09:10"), odi)
    if ndi is not None:
        b.ndi(moment(offset, "09:10"), ndi)
    b.note(when=moment(offset, "09:40"), title=note_title, text="\n".join(note_lines) + "\n", encounter=encounter)
    return encounter


def diagnostic_block(
    b: RecordBuilder,
    *,
    offset: int,
    levels: Sequence[str],
    side: Side,
    region: Region = "lumbar",
    baseline: int,
    after: Sequence[tuple[str, int]],
    follow_up: Sequence[tuple[int, int]] = (),
    target: Literal["medial branch", "intra-articular"] = "medial branch",
) -> str:
    """A diagnostic facet block (local anesthetic only) at 08:00: the baseline at 07:30, the post-block
    scores at the given clock times (same day, `partOf` the block), follow-up scores `(days later, score)`."""
    where = f"{side} {levels_phrase(levels)} {region}"
    text = (
        f"Diagnostic {where} medial branch block, fluoroscopic guidance"
        if target == "medial branch"
        else f"Diagnostic {where} facet joint (intra-articular) injection, fluoroscopic guidance"
    )
    b.pain(moment(offset, "07:30"), baseline)
    block = b.procedure(
        first_level_cpt(region, ablation=False),
        text,
        performed=moment(offset, "08:00"),
        intent="diagnostic",
        body_site=f"{side.capitalize()} {levels_phrase(levels)} facet joints",
        note="Local anesthetic only (bupivacaine 0.5%, 0.5 mL per target). No corticosteroid. Pain diary given.",
    )
    for clock, score in after:
        b.pain(moment(offset, clock), score, part_of=block)
    for days_later, score in follow_up:
        b.pain(moment(offset + days_later, "09:00"), score)
    return block


def therapeutic_injection(
    b: RecordBuilder,
    *,
    offset: int,
    levels: Sequence[str],
    side: Side,
    region: Region = "lumbar",
    baseline: int,
    follow_up: Sequence[tuple[int, int]] = (),
) -> str:
    """A therapeutic intra-articular facet injection with corticosteroid and its follow-up scores."""
    b.pain(moment(offset, "07:30"), baseline)
    injection = b.procedure(
        first_level_cpt(region, ablation=False),
        f"Therapeutic {side} {levels_phrase(levels)} {region} facet joint (intra-articular) injection with "
        "corticosteroid, fluoroscopic guidance",
        performed=moment(offset, "08:00"),
        intent="therapeutic",
        body_site=f"{side.capitalize()} {levels_phrase(levels)} facet joints",
        note="Triamcinolone 20 mg with bupivacaine 0.25% per joint.",
    )
    for days_later, score in follow_up:
        b.pain(moment(offset + days_later, "09:00"), score)
    return injection


def radiofrequency_ablation(
    b: RecordBuilder,
    *,
    offset: int,
    levels: Sequence[str],
    side: Side,
    region: Region = "lumbar",
    baseline: int,
    follow_up: Sequence[tuple[int, int]] = (),
) -> str:
    """A thermal medial branch radiofrequency ablation; follow-up scores `(days later, score)` by time."""
    b.pain(moment(offset, "07:30"), baseline)
    ablation = b.procedure(
        first_level_cpt(region, ablation=True),
        f"{side.capitalize()} {levels_phrase(levels)} {region} medial branch radiofrequency ablation, thermal, "
        "fluoroscopic guidance",
        performed=moment(offset, "08:00"),
        intent="therapeutic",
        body_site=f"{side.capitalize()} {levels_phrase(levels)} facet joints",
        note="Conventional thermal lesions at 80 °C for 90 seconds per medial branch after motor testing.",
    )
    for days_later, score in follow_up:
        b.pain(moment(offset + days_later, "09:00"), score)
    return ablation
