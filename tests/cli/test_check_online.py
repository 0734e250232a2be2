"""`smart-app check --fhir-base --patient` against the real sandbox FHIR server (and `responses` for a 5xx)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from tests.cases.support import run_check, schema_errors
from tests.conftest import CASES_DIR

pytestmark = pytest.mark.sandbox

CASES = {
    "lumbar-mbb-confirmatory-ready": ["--procedure", "medial-branch-block", "--intent", "diagnostic",
                                      "--levels", "L4-L5,L5-S1"],
    "lumbar-rfa-repeat-ready": ["--procedure", "radiofrequency-ablation", "--levels", "L4-L5,L5-S1"],
    "pars-injection-bme-ready": ["--procedure", "pars-injection", "--levels", "L5"],
}  # fmt: skip
COMMON = ["--side", "bilateral", "--as-of", "2026-11-15", "--format", "json"]


def load(base_url: str, name: str) -> tuple[Path, str]:
    path = CASES_DIR / f"{name}.bundle.json"
    bundle = json.loads(path.read_text())
    answer = requests.post(base_url, json=bundle, headers={"Content-Type": "application/fhir+json"}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    patient = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    return path, patient


def essentials(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": result["verdict"],
        "pathway": result["pathway"],
        "payer": result["request"]["payer"],
        "criteria": [(c["id"], c["status"], sorted(e["reference"] for e in c["evidence"])) for c in result["criteria"]],
        "outlook": result.get("outlook"),
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_online_gives_the_same_result_as_the_bundle(empty_fhir_server: Any, name: str) -> None:
    path, patient = load(empty_fhir_server.base_url, name)
    online = run_check("--fhir-base", empty_fhir_server.base_url, "--patient", patient, *CASES[name], *COMMON)
    offline = run_check("--bundle", str(path), *CASES[name], *COMMON)
    assert (online.exit_code, online.stderr) == (0, "")
    result = online.json()
    assert schema_errors(result) == []
    assert essentials(result) == essentials(offline.json())


def test_an_unknown_patient_is_bad_input(empty_fhir_server: Any) -> None:
    run = run_check("--fhir-base", empty_fhir_server.base_url, "--patient", "no-such-patient",
                    *CASES["pars-injection-bme-ready"], *COMMON)  # fmt: skip
    assert (run.exit_code, run.stdout) == (2, "")
    assert "unknown patient id 'no-such-patient'" in run.stderr and run.stderr.count("\n") == 1


@pytest.mark.parametrize("token", [None, "not-a-real-token"])
def test_a_refused_token_is_a_server_failure(empty_fhir_server: Any, auth_server: Any, token: str | None) -> None:
    _, patient = load(empty_fhir_server.base_url, "pars-injection-bme-ready")
    empty_fhir_server.configure(require_auth=True)
    env = {"SMART_APP_FHIR_TOKEN": token} if token else None
    run = run_check("--fhir-base", empty_fhir_server.base_url, "--patient", patient,
                    *CASES["pars-injection-bme-ready"], *COMMON, env=env)  # fmt: skip
    assert (run.exit_code, run.stdout) == (3, "")
    assert "HTTP 401" in run.stderr
    assert token is None or token not in run.stderr


def test_a_server_error_exits_3_with_its_diagnostics() -> None:
    base = "http://fhir.invalid/fhir"
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": "database unavailable"}],
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST):
            mock.add(method, re.compile(re.escape(base) + ".*"), json=outcome, status=500, headers={"Retry-After": "0"})
        run = run_check("--fhir-base", base, "--patient", "p1", *CASES["pars-injection-bme-ready"], *COMMON)
    assert (run.exit_code, run.stdout) == (3, "")
    assert "HTTP 500" in run.stderr and "database unavailable" in run.stderr


def test_an_implanted_stimulator_read_online_proves_tx_03(empty_fhir_server: Any) -> None:
    """The Device search belongs to the record fetch: without it TX-03 would be unknown online."""
    from smart_app.sandbox.seed import acceptance_cases, seed_server

    name = "lumbar-facet-therapeutic-stimulator-ready"
    [case] = [c for c in acceptance_cases() if c["name"] == name]
    seed_server(empty_fhir_server.base_url, only=[name])
    args = case["args"]
    request = ["--procedure", args["procedure"], "--intent", args["intent"], "--levels", args["levels"]]
    online = run_check(
        "--fhir-base", empty_fhir_server.base_url, "--patient", case["patient"].split("/")[1], *request, *COMMON
    )
    [tx03] = [c for c in online.json()["criteria"] if c["id"] == "TX-03"]
    assert tx03["status"] == "met"
    assert any(e["reference"].startswith("Device/") for e in tx03["evidence"])
