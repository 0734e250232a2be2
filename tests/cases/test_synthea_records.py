"""The two Synthea patients with chronic low back pain: records nobody here shaped.

They hold back pain coded in SNOMED only, no pain scores, no spine imaging and no injections. A correct check finds
the back-pain diagnosis and its onset, reports what is missing (`needs-documentation`), and invents no exclusion
from their unrelated conditions (UTIs, concussion, sinusitis, …). An RFA request is `not-eligible`: the record was
read completely and holds no diagnostic block, so RFA-01 is `not-met` with the first block as the next step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cases.support import run_check, schema_errors
from tests.conftest import DATA_DIR

RECORDS = {
    "synthea-backpain-Corrin41_Jast432.json": "2014-01-31",
    "synthea-backpain-Karena692_O'Keefe54.json": "2020-09-03",
}
REQUESTS = {
    "lumbar-mbb": ["--procedure", "medial-branch-block", "--intent", "diagnostic", "--levels", "L4-L5,L5-S1"],
    "cervical-mbb": ["--procedure", "medial-branch-block", "--intent", "diagnostic", "--levels", "C5-C6"],
    "lumbar-rfa": ["--procedure", "radiofrequency-ablation", "--levels", "L4-L5"],
    "pars": ["--procedure", "pars-injection", "--levels", "L5"],
}
EXCLUSIONS = ("GEN-04", "GEN-05", "GEN-09", "GEN-10", "DX-04", "PARS-01", "PARS-02")


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
@pytest.mark.parametrize("record", sorted(RECORDS))
def test_synthea_record_needs_documentation_and_invents_no_exclusion(record: str, request_name: str) -> None:
    bundle = Path(DATA_DIR) / "synthea-backpain" / record
    args = ["--bundle", str(bundle), *REQUESTS[request_name], "--side", "bilateral", "--as-of", "2026-11-15"]
    run = run_check(*args, "--format", "json")
    assert (run.exit_code, run.stderr) == (0, "")
    result = run.json()
    assert schema_errors(result) == []
    by_id = {criterion["id"]: criterion for criterion in result["criteria"]}
    not_met = [c["id"] for c in result["criteria"] if c["status"] == "not-met"]
    if request_name == "lumbar-rfa":
        assert (result["verdict"], not_met) == ("not-eligible", ["RFA-01"])
        assert by_id["RFA-01"]["next_step"] == "a first diagnostic medial branch block at bilateral L4-L5"
    else:
        assert (result["verdict"], not_met) == ("needs-documentation", [])
    assert all(by_id[cid]["status"] == "met" for cid in EXCLUSIONS if cid in by_id)

    onset = RECORDS[record]
    assert by_id["GEN-02"]["status"] == "met"
    assert f"pain since {onset}" in by_id["GEN-02"]["detail"]
    diagnosis = "1121000119107" if request_name == "cervical-mbb" else "278860009"
    assert any(diagnosis in e["summary"] for e in by_id["GEN-01"]["evidence"])  # the back-pain diagnosis is found
    assert by_id["GEN-01"]["status"] == "unknown" and "no pain score" in by_id["GEN-01"]["detail"]
    assert by_id["GEN-03"]["status"] == "met"  # ibuprofen / acetaminophen, movement therapy
