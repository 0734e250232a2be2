"""`workflow.check.run_check`, the API the web page and `smart-app order` call: what it adds around the checklist."""

from __future__ import annotations

import json
from datetime import date

import pytest

from smart_app.core.bundles import record_from_bundle
from smart_app.core.model import CheckRequest, InvalidRequest
from smart_app.workflow.check import run_check
from tests.cases.support import schema_errors
from tests.conftest import CASES_DIR

AS_OF = date(2026, 11, 15)
MBB = {"procedure": "medial-branch-block", "levels": "L4-L5,L5-S1", "side": "bilateral", "intent": "diagnostic"}
REQUEST = CheckRequest.build(**MBB)


def ready_record() -> list[dict]:
    bundle = json.loads((CASES_DIR / "lumbar-mbb-first-ready.bundle.json").read_text())
    return record_from_bundle(bundle).resources


def test_a_partly_read_record_reports_what_was_not_read() -> None:
    result = run_check(
        [*ready_record(), "not a resource"],  # type: ignore[list-item]
        REQUEST,
        as_of=AS_OF,
        skipped=[{"reference": "Observation/bad", "reason": "not valid FHIR"}],
        unreadable={"DiagnosticReport": "not granted: patient/DiagnosticReport.rs"},
    )
    assert schema_errors(result) == []
    assert result["skipped_resources"] == [
        {"reference": "Observation/bad", "reason": "not valid FHIR"},
        {"reference": "record item 14", "reason": "not a FHIR resource"},
    ]
    assert any(w["code"] == "record-incomplete" and "DiagnosticReport" in w["message"] for w in result["warnings"])
    statuses = {c["id"]: c["status"] for c in result["criteria"]}
    assert (statuses["GEN-04"], statuses["GEN-05"], statuses["GEN-09"]) == ("unknown", "unknown", "met")
    assert result["verdict"] == "needs-documentation"


def test_the_payer_is_always_in_the_result() -> None:
    assert run_check(ready_record(), REQUEST, as_of=AS_OF)["request"]["payer"] == "medicare"
    chosen = run_check(ready_record(), CheckRequest.build(**MBB, payer="bcbs-nd"), as_of=AS_OF)
    assert chosen["request"]["payer"] == "bcbs-nd"
    assert chosen["warnings"][0] == {
        "code": "payer",
        "message": "payer bcbs-nd (Blue Cross Blue Shield of North Dakota) as requested",
    }


def test_a_record_without_a_patient_is_refused() -> None:
    without = [r for r in ready_record() if r["resourceType"] != "Patient"]
    with pytest.raises(InvalidRequest, match="no Patient"):
        run_check(without, REQUEST, as_of=AS_OF)


def test_a_request_the_coder_cannot_code_still_gets_its_checklist() -> None:
    unguided = CheckRequest.build(**MBB, guidance="none")
    result = run_check(ready_record(), unguided, as_of=AS_OF)
    assert schema_errors(result) == []
    assert {c["id"]: c["status"] for c in result["criteria"]}["GEN-11"] == "not-met"
    assert result["verdict"] == "not-eligible"
