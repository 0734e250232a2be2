"""Every public case and every seed patient loaded into HAPI; the public cases through the online check give the
same result as the offline check of their bundles."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from smart_app.sandbox.seed import seed_server
from tests.cases.support import case_flags, load_cases, run_check, schema_errors
from tests.conftest import CASES_DIR

pytestmark = pytest.mark.sandbox
CASES = load_cases(CASES_DIR / "cases.json")


def essentials(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": result["verdict"],
        "pathway": result["pathway"],
        "payer": result["request"]["payer"],
        "criteria": [(c["id"], c["status"], sorted(e["reference"] for e in c["evidence"])) for c in result["criteria"]],
        "coding": result.get("coding"),
        "outlook": result.get("outlook"),
    }


@pytest.fixture(scope="module")
def loaded(hapi_server: Any) -> dict[str, Any]:
    """Every shared case bundle (a transaction of PUTs) and every seed patient, once. No reset: the PUTs are
    idempotent, and `/admin/reset` would expunge the installed IG profiles too."""
    for path in sorted(CASES_DIR.glob("*.bundle.json")):
        answer = requests.post(hapi_server.base_url, json=json.loads(path.read_text()), timeout=120)
        assert answer.status_code == 200, f"{path.name}: {answer.text[:500]}"
    seeded = seed_server(hapi_server.base_url, token=None)
    return {"seeded": seeded}


def test_every_seed_patient_is_readable(hapi_server: Any, loaded: dict[str, Any]) -> None:
    assert len(loaded["seeded"]) >= 5
    for patient in loaded["seeded"]:
        answer = requests.get(f"{hapi_server.base_url}/Patient/{patient}", timeout=30)
        assert answer.status_code == 200 and answer.json()["id"] == patient


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_a_public_case_online_matches_offline(hapi_server: Any, loaded: dict[str, Any], case: dict[str, Any]) -> None:
    offline_flags = case_flags(case, CASES_DIR)
    online_flags = ["--fhir-base", hapi_server.base_url, "--patient", case["patient"].split("/")[1]]
    online_flags += offline_flags[2:]  # everything but --bundle FILE
    offline = run_check(*offline_flags)
    online = run_check(*online_flags)
    assert (online.exit_code, online.stderr) == (0, "")
    result = online.json()
    assert schema_errors(result) == []
    assert essentials(result) == essentials(offline.json())
