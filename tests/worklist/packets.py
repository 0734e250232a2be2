"""Real packets for worklist and submission tests: a public case's record checked and built into a packet (PDF,
PAS Bundle, DTR QuestionnaireResponse), kept as the worklist keeps it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from smart_app.core.model import CheckRequest
from smart_app.core.packet.model import PacketOptions, Practice
from smart_app.sandbox.seed.sandbox_user import sandbox_user_resources
from smart_app.store.prior_auth_packets import KeptPacket
from smart_app.workflow.check import run_check
from smart_app.workflow.packet import PacketFiles, build_packet_files
from tests.conftest import CASES_DIR

PRACTICE = Practice.from_mapping({"name": "Example Spine Clinic", "npi": "1234567893", "tin": "123456789"})
ELIGIBLE_RFA = "lumbar-rfa-initial-ready"
ELIGIBLE_MBB = "lumbar-mbb-first-ready"


def case_files(name: str, **options: Any) -> PacketFiles:
    """The packet of public case `name` as checked on its own date (its `args` in cases.json)."""
    case = next(c for c in json.loads((CASES_DIR / "cases.json").read_text()) if c["name"] == name)
    record = [entry["resource"] for entry in json.loads((CASES_DIR / case["bundle"]).read_text())["entry"]]
    args = dict(case["args"])
    as_of = date.fromisoformat(args.pop("as_of"))
    request = CheckRequest.build(**args)
    result = run_check(record, request, as_of=as_of, payer_from_record=True)
    organization, practitioner, _role = sandbox_user_resources()
    return build_packet_files(
        result,
        record,
        PacketOptions(service_start=as_of, **options),
        practice=PRACTICE,
        created=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        practitioner=practitioner,
        organization=organization,
    )


def kept(files: PacketFiles, *, built_at: float, built_by: str = "Practitioner/staff") -> KeptPacket:
    return files.to_kept(built_at=built_at, built_by=built_by)
