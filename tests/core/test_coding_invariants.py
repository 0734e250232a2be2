"""Properties every coding result keeps, over generated requests, and its shape against the check-result contract."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from smart_app.core.coding import code_region, code_request
from smart_app.core.model import SYSTEM_ICD10, CheckRequest, Diagnosis
from smart_app.rules.coding import load_coding_table
from tests.conftest import CHECK_RESULT_SCHEMA

TABLE = load_coding_table()
JOINTS = [
    "C2-C3", "C3-C4", "C4-C5", "C5-C6", "C6-C7", "C7-T1", "T1-T2", "T5-T6", "T10-T11", "T11-T12", "T12-L1",
    "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1",
]  # fmt: skip
VERTEBRAE = ["C2", "T12", "L1", "L3", "L4", "L5"]
DIAGNOSES = [Diagnosis(code, SYSTEM_ICD10) for code in ("M47.812", "M47.816", "M43.06", "M54.50", "M54.2")]
CONVENTIONS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "bilateral": st.sampled_from(["modifier-50", "rt-lt-lines"]),
            "kx_on_diagnostic": st.booleans(),
            "medicare_lcd": st.booleans(),
        },
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> CheckRequest:
    procedure = draw(
        st.sampled_from(["pars-injection", "facet-injection", "medial-branch-block", "radiofrequency-ablation"])
    )
    pool = VERTEBRAE if procedure == "pars-injection" else JOINTS
    levels = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5, unique=True))
    return CheckRequest.build(
        procedure=procedure,
        levels=levels,
        side=draw(st.sampled_from(["left", "right", "bilateral"])),
        intent=None if procedure == "radiofrequency-ablation" else draw(st.sampled_from(["diagnostic", "therapeutic"])),
        guidance=draw(st.sampled_from(["fluoroscopy", "ct", "ultrasound", "none"])),
        technique=draw(st.sampled_from(["thermal", "pulsed", "cryo", "chemical"]))
        if procedure == "radiofrequency-ablation"
        else None,
        setting=draw(st.sampled_from(["physician", "asc", "hospital-outpatient"])),
    )


def coding_schema() -> Draft202012Validator:
    contract = json.loads(CHECK_RESULT_SCHEMA.read_text(encoding="utf-8"))
    schema = {**contract["properties"]["coding"], "$defs": contract["$defs"]}
    return Draft202012Validator(schema)


CODING_SCHEMA = coding_schema()


@settings(max_examples=300, deadline=None)
@given(request=requests(), conventions=CONVENTIONS)
def test_coding_invariants(request: CheckRequest, conventions: dict[str, Any] | None) -> None:
    result = code_request(request, DIAGNOSES, TABLE, conventions)
    document = result.to_json()
    CODING_SCHEMA.validate(document)
    lines = result.lines
    codes = [line["code"] for line in lines]

    assert lines, "every request is coded"
    assert not {"77003", "77012"} & set(codes), "imaging guidance is never a line (CR-11)"
    assert all(line["modifiers"] == sorted(set(line["modifiers"])) for line in lines)
    assert all(line["units"] >= 1 for line in lines)
    assert all(line["code"] in TABLE["codes"] for line in lines)
    # +64492/+64495 (and the ultrasound third-level codes) at most once per side
    for third in ("64492", "64495", "0215T", "0218T"):
        per_side = Counter(tuple(line["modifiers"]) for line in lines if line["code"] == third)
        assert all(count == 1 for count in per_side.values())
        assert all(line["units"] == 1 for line in lines if line["code"] == third)
    # each coded level appears once per laterality line set, and all coded levels share one code region session
    sides = {tuple(m for m in line["modifiers"] if m in ("RT", "LT", "50")) for line in lines}
    for side in sides:
        covered = [level for line in lines if tuple(m for m in line["modifiers"] if m in side) == side
                   for level in line["levels"]]  # fmt: skip
        assert len(covered) == len(set(covered))
        assert set(covered) <= set(request.levels)
    coded = {level for line in lines for level in line["levels"]}
    non_junction = {code_region(level) for level in coded if level != "T12-L1"}
    assert len(non_junction) <= 1, "one region per session (CR-16)"
    if coded != set(request.levels):
        assert "coding.more-than-one-region" in {warning.code for warning in result.warnings}
    # laterality: bilateral is 50 (one line) or RT+LT (two lines); one side is RT or LT; never 2 units for bilateral
    if request.side == "bilateral":
        assert all(("50" in line["modifiers"]) != ({"RT", "LT"} & set(line["modifiers"]) != set()) for line in lines)
        assert sum(line["units"] for line in lines if "50" in line["modifiers"] and not line["add_on"]) <= 1
    else:
        wanted = "RT" if request.side == "right" else "LT"
        assert all(wanted in line["modifiers"] and "50" not in line["modifiers"] for line in lines)
    # the first line of each side set is the primary code, not an add-on
    assert not lines[0]["add_on"]
