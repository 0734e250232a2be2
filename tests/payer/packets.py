"""PAS request Bundles as the app builds them: the packet builder (smart_app.workflow.packet) run on the shared
acceptance cases, each built once per session and handed out as a fresh copy with its own Claim identifier (the
payer answers a known identifier with its first answer)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from smart_app.core.model import CheckRequest
from smart_app.core.packet.model import PacketOptions, Practice
from smart_app.sandbox.seed.sandbox_user import sandbox_user_resources
from smart_app.workflow.check import run_check
from smart_app.workflow.packet import build_packet_files
from tests.conftest import CASES_DIR

FIRST_PATIENT = "lumbar-mbb-first-ready"  # diagnostic medial branch blocks 64493/64494, M47.816
SECOND_PATIENT = "lumbar-rfa-initial-ready"  # radiofrequency ablation 64635/64636
PRACTICE = {"name": "Example Spine Clinic", "npi": "1234567893", "tin": "123456789"}


@cache
def _built(case_name: str) -> str:
    case = next(c for c in json.loads((CASES_DIR / "cases.json").read_text()) if c["name"] == case_name)
    record = [entry["resource"] for entry in json.loads((CASES_DIR / case["bundle"]).read_text())["entry"]]
    args = dict(case["args"])
    as_of = date.fromisoformat(args.pop("as_of"))
    result = run_check(record, CheckRequest.build(**args), as_of=as_of, payer_from_record=True)
    organization, practitioner, _role = sandbox_user_resources()
    files = build_packet_files(
        result,
        record,
        PacketOptions(service_start=as_of),
        practice=Practice.from_mapping(PRACTICE),
        created=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        practitioner=practitioner,
        organization=organization,
    )
    return json.dumps(files.pas_bundle)


def packet_bundle(case_name: str = FIRST_PATIENT) -> dict[str, Any]:
    """The case's packet PAS request Bundle with a new Claim (and Bundle) identifier."""
    bundle: dict[str, Any] = json.loads(_built(case_name))
    identifier = uuid.uuid4().hex
    bundle["identifier"]["value"] = identifier
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = identifier
    return bundle


def resource_of(bundle: dict[str, Any], resource_type: str) -> tuple[int, dict[str, Any]]:
    """The index and resource of the first entry of that type."""
    return next(
        (index, entry["resource"])
        for index, entry in enumerate(bundle["entry"])
        if entry["resource"]["resourceType"] == resource_type
    )


def without_documentation(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle without its clinical documentation (the PDF's DocumentReference and the DTR answers)."""
    changed = copy.deepcopy(bundle)
    dropped = {"DocumentReference", "QuestionnaireResponse"}
    changed["entry"] = [e for e in changed["entry"] if e["resource"]["resourceType"] not in dropped]
    claim = changed["entry"][0]["resource"]
    claim.pop("supportingInfo", None)
    for item in claim["item"]:
        item.pop("informationSequence", None)
    return changed


def with_diagnoses(bundle: dict[str, Any], *codes: str) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    claim = changed["entry"][0]["resource"]
    system = claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["system"]
    claim["diagnosis"] = [
        {"sequence": number, "diagnosisCodeableConcept": {"coding": [{"system": system, "code": code}]}}
        for number, code in enumerate(codes, start=1)
    ]
    return changed
