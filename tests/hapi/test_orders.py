"""`smart-app order` against HAPI: twice for several patients in sequence, each order written exactly once and
every reference in what it wrote resolving on the server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from smart_app.cli import main
from smart_app.sandbox.seed.sandbox_user import sandbox_user_bundle
from tests.conftest import CASES_DIR

pytestmark = pytest.mark.sandbox
# HAPI enforces referential integrity on write (HAPI-1094), so the ordering user must exist: the sandbox user.
SANDBOX_USER = sandbox_user_bundle()
PRACTITIONER = next(
    f"Practitioner/{entry['resource']['id']}"
    for entry in SANDBOX_USER["entry"]
    if entry["resource"]["resourceType"] == "Practitioner"
)
ORDERS = {
    "lumbar-rfa-initial-ready": ["--procedure", "radiofrequency-ablation", "--levels", "L4-L5,L5-S1"],
    "lumbar-mbb-first-ready": ["--procedure", "medial-branch-block", "--intent", "diagnostic",
                               "--levels", "L4-L5,L5-S1"],
    "pars-injection-bme-ready": ["--procedure", "pars-injection", "--levels", "L5"],
}  # fmt: skip
COMMON = ["--side", "bilateral", "--as-of", "2026-11-15", "--format", "json"]
ORDER_TYPES = ("ServiceRequest", "DocumentReference", "Device", "Provenance")


def load_case(base_url: str, name: str) -> str:
    bundle = json.loads((CASES_DIR / f"{name}.bundle.json").read_text())
    answer = requests.post(base_url, json=bundle, timeout=120)
    assert answer.status_code == 200, answer.text[:500]
    return next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def order(base_url: str, patient: str, flags: list[str], database: Path) -> dict[str, Any]:
    env = {"SMART_APP_DATABASE_URL": f"sqlite:///{database}", "SMART_APP_FHIR_TOKEN": "",
           "SMART_APP_FHIR_USER": PRACTITIONER}  # fmt: skip
    args = ["order", "--fhir-base", base_url, "--patient", patient, *flags, *COMMON]
    run = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def inventory(base_url: str) -> dict[str, int]:
    counts = {}
    for resource_type in ORDER_TYPES:
        answer = requests.get(
            f"{base_url}/{resource_type}",
            params={"_summary": "count"},
            headers={"Cache-Control": "no-cache"},
            timeout=30,
        )
        counts[resource_type] = int(answer.json()["total"])
    return counts


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def test_ordering_twice_for_several_patients_writes_each_order_once(hapi_server: Any, tmp_path: Path) -> None:
    base = hapi_server.base_url  # no reset: `/admin/reset` expunges everything, the installed IG profiles too
    assert requests.post(base, json=SANDBOX_USER, timeout=120).status_code == 200
    for name, flags in ORDERS.items():
        patient = load_case(base, name)
        before = inventory(base)
        first = order(base, patient, flags, tmp_path / "app.db")
        assert first["kept_locally"] is False, first.get("reason")
        created = [item["reference"] for item in first["written"] if item["action"] == "created"]
        # The app's Device is written once and then shared by later orders ("unchanged").
        assert {item["reference"].split("/")[0] for item in first["written"] if item["action"] != "created"} <= {
            "Device"
        }
        assert any(reference.startswith("ServiceRequest/") for reference in created)
        after_first = inventory(base)
        assert sum(after_first.values()) - sum(before.values()) == len(created)

        again = order(base, patient, flags, tmp_path / "app.db")
        assert {item["action"] for item in again["written"]} == {"unchanged"}
        assert inventory(base) == after_first

        for item in first["written"]:
            resource = requests.get(f"{base}/{item['reference']}", timeout=30)
            assert resource.status_code == 200, item["reference"]
            for reference in references(resource.json()):
                if reference.startswith("#"):
                    continue
                target = requests.get(f"{base}/{reference}", timeout=30)
                assert target.status_code == 200, f"{item['reference']} → {reference} answered {target.status_code}"
