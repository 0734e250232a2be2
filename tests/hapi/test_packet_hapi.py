"""`smart-app packet` against HAPI: for two ready patients in sequence (the first one twice) the PAS Bundle's Claim
lines equal the check's coding lines and HAPI's own `$validate` against the PAS request Bundle profile finds no
error but the known gaps (tests/packet/validation.py, plus
HAPI's own in tests/hapi/hapi_validation.py); `--write-to-ehr` writes the packet's DocumentReference
exactly once and every reference it holds resolves on HAPI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from smart_app.cli import main
from smart_app.core.documents import IDENTIFIER_SYSTEM
from tests.conftest import CASES_DIR
from tests.hapi.hapi_validation import hapi_unexpected_errors
from tests.hapi.test_orders import SANDBOX_USER, load_case, references
from tests.packet.test_packet_cli import PRACTICE

pytestmark = pytest.mark.sandbox
PAS_REQUEST_BUNDLE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-request-bundle"
FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
# The first patient runs twice; the second follows it.
SEQUENCE = ("lumbar-rfa-initial-ready", "lumbar-rfa-initial-ready", "pars-injection-bme-ready")


def _case(name: str) -> dict[str, Any]:
    cases = json.loads((CASES_DIR / "cases.json").read_text())
    case: dict[str, Any] = next(case for case in cases if case["name"] == name)
    assert case["expected"]["verdict"] == "ready"
    return case


def _packet(base: str, case: dict[str, Any], out: Path, database: Path, *extra: str) -> dict[str, Any]:
    args = ["packet", "--fhir-base", base, "--patient", case["patient"].split("/")[1]]
    for key, value in case["args"].items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    env = {"SMART_APP_FHIR_TOKEN": "", "SMART_APP_FHIR_USER": f"Practitioner/{_practitioner()}",
           "SMART_APP_PRACTICE": PRACTICE, "SMART_APP_DATABASE_URL": f"sqlite:///{database}"}  # fmt: skip
    run = CliRunner().invoke(main, [*args, "--out", str(out), "--format", "json", *extra], env=env,
                             catch_exceptions=False)  # fmt: skip
    assert run.exit_code == 0, run.output
    printed: dict[str, Any] = json.loads(run.stdout)
    return printed


def _practitioner() -> str:
    return str(
        next(e["resource"]["id"] for e in SANDBOX_USER["entry"] if e["resource"]["resourceType"] == "Practitioner")
    )


def _hapi_validate(base: str, bundle: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(
        f"{base}/Bundle/$validate", params={"profile": PAS_REQUEST_BUNDLE}, json=bundle, headers=FHIR_JSON, timeout=600
    )
    outcome: dict[str, Any] = answer.json()
    assert outcome.get("resourceType") == "OperationOutcome", answer.text[:500]
    return outcome


def _packet_documents(base: str, key: str) -> list[dict[str, Any]]:
    found = requests.get(
        f"{base}/DocumentReference",
        params={"identifier": f"{IDENTIFIER_SYSTEM}|{key}"},
        headers={"Cache-Control": "no-cache"},
        timeout=60,
    ).json()
    return [entry["resource"] for entry in found.get("entry", [])]


@pytest.mark.timeout(1800)
def test_packets_built_against_hapi_validate_there(hapi_server: Any, tmp_path: Path) -> None:
    base = hapi_server.base_url
    assert requests.post(base, json=SANDBOX_USER, timeout=120).status_code == 200
    outcomes: dict[str, list[dict[str, Any]]] = {}
    for number, name in enumerate(SEQUENCE):
        case = _case(name)
        assert load_case(base, name) == case["patient"].split("/")[1]
        out = tmp_path / f"{number}-{name}.zip"
        printed = _packet(base, case, out, tmp_path / "app.db")
        check = printed["check"]
        assert check["verdict"] == "ready"
        bundle = json.loads(zipfile.ZipFile(out).read("pas-bundle.json"))
        assert PAS_REQUEST_BUNDLE in bundle["meta"]["profile"]
        claim = bundle["entry"][0]["resource"]
        assert claim["resourceType"] == "Claim" and claim["patient"]["reference"].startswith("urn:uuid:")
        claim_lines = [
            (item["productOrService"]["coding"][0]["code"], [m["coding"][0]["code"] for m in item.get("modifier", [])],
             item["quantity"]["value"])
            for item in claim["item"]
        ]  # fmt: skip
        assert claim_lines == [(line["code"], line["modifiers"], line["units"]) for line in check["coding"]["lines"]]
        assert [line[0] for line in claim_lines] == [c["code"] for c in case["expected"]["coding"]]
        outcome = _hapi_validate(base, bundle)
        outcomes.setdefault(name, []).append(outcome)
        (tmp_path.parent / f"hapi-validate-{number}-{name}.json").write_text(json.dumps(outcome, indent=1))
        assert hapi_unexpected_errors(outcome) == [], json.dumps(hapi_unexpected_errors(outcome), indent=1)[:3000]
    # The same patient twice gives the same verdict from HAPI.
    first, again = outcomes[SEQUENCE[0]]
    assert _severities(first) == _severities(again)


def _severities(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(i.get("severity")), str(i.get("diagnostics"))) for i in outcome.get("issue", []))


@pytest.mark.timeout(1200)
def test_write_to_ehr_on_hapi_writes_the_document_once(hapi_server: Any, tmp_path: Path) -> None:
    base = hapi_server.base_url
    assert requests.post(base, json=SANDBOX_USER, timeout=120).status_code == 200
    case = _case(SEQUENCE[-1])
    load_case(base, case["name"])
    first = _packet(base, case, tmp_path / "a.zip", tmp_path / "app.db", "--write-to-ehr")
    written = first["written"]
    assert {item["reference"].split("/")[0] for item in written} >= {"DocumentReference", "Provenance"}
    document = next(item["reference"] for item in written if item["reference"].startswith("DocumentReference/"))
    stored = requests.get(f"{base}/{document}", timeout=60).json()
    key = next(i["value"] for i in stored["identifier"] if i["system"] == IDENTIFIER_SYSTEM)
    assert key.endswith(".packet")

    again = _packet(base, case, tmp_path / "b.zip", tmp_path / "app.db", "--write-to-ehr")
    assert {item["action"] for item in again["written"]} == {"unchanged"}
    assert [d["id"] for d in _packet_documents(base, key)] == [stored["id"]]
    assert requests.get(f"{base}/{document}", timeout=60).json()["meta"]["versionId"] == stored["meta"]["versionId"]

    held = [reference for reference in references(stored) if not reference.startswith("#")]
    assert any(reference.startswith("Patient/") for reference in held)
    for reference in held:
        target = requests.get(f"{base}/{reference}", timeout=60)
        assert target.status_code == 200, f"{document} → {reference} answered {target.status_code}"


def test_only_known_hapi_gaps_are_filtered() -> None:
    cpt = "CodeSystem is unknown and can't be validated: http://www.ama-assn.org/go/cpt for 'http://www.ama-assn.org/go/cpt#64635'"
    choice = (
        "Unable to find a profile match for urn:uuid:1 among choices: http://hl7.org/fhir/StructureDefinition/Bundle"
    )
    missing = "Claim.insurance: minimum required = 1, but only found 0"
    only_gaps = {"issue": [{"severity": "error", "diagnostics": text} for text in (cpt, choice)]}
    assert hapi_unexpected_errors(only_gaps) == []
    real = {"issue": [*only_gaps["issue"], {"severity": "error", "diagnostics": missing, "expression": ["Claim"]}]}
    assert hapi_unexpected_errors(real) == [f"Claim: {missing}", f": {choice}"]
