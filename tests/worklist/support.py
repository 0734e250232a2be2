"""Worklist entries for tests: a plausible request per index (names, payers, procedures vary)."""

from __future__ import annotations

from smart_app.store.prior_auth_requests import RequestEntry

FAMILIES = ("Lopez", "Nguyen", "Okafor", "Schmidt", "Haddad", "Kowalski", "Tanaka", "Silva")
PAYERS = ("medicare", "aetna", "bcbs-nd")
PROCEDURES = (
    ("medial-branch-block", "64493-LT, 64494-LT", "64493"),
    ("radiofrequency-ablation", "64635-50, 64636-50", "64635"),
    ("pars-injection", "64493-50", "64493"),
)


def entry(index: int, *, ehr: str = "sandbox", payer: str | None = None) -> RequestEntry:
    procedure, cpt, code = PROCEDURES[index % len(PROCEDURES)]
    return RequestEntry(
        ehr_name=ehr,
        order_key=f"order-{index:06d}",
        patient_ref=f"Patient/p{index}",
        patient_name=f"Pat{index} {FAMILIES[index % len(FAMILIES)]}",
        birth_date=f"19{50 + index % 40}-0{1 + index % 9}-1{index % 10}",
        member_id=f"MB{index:07d}",
        mrn=f"MRN{index:06d}",
        procedure=procedure,
        cpt=cpt,
        levels="L4-L5, L5-S1",
        side="bilateral",
        payer_id=payer or PAYERS[index % len(PAYERS)],
        payer_name="",
        ordering_provider=f"Practitioner/dr{index % 5}",
        verdict="ready",
        details={"lines": [{"code": code, "modifiers": ["50"], "units": 1, "diagnoses": ["M47.816"]}]},
    )
