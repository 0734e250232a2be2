"""`smart-app order` against the sandbox (click's runner, the real check, the real server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smart_app.cli import main
from smart_app.fhir.client import FhirClient
from tests.orders.samples import RFA_PATIENT
from tests.orders.test_save import inventory

pytestmark = pytest.mark.sandbox
REQUEST = ["--procedure", "radiofrequency-ablation", "--levels", "L4-L5,L5-S1", "--side", "bilateral",
           "--as-of", "2026-11-15"]  # fmt: skip


def _order(ehr: FhirClient, tmp_path: Path, *extra: str, patient: str = RFA_PATIENT.split("/")[1]) -> Any:
    args = ["order", "--fhir-base", ehr.base_url, "--patient", patient, *REQUEST, "--format", "json", *extra]
    env = {"SMART_APP_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "SMART_APP_FHIR_TOKEN": "",
           "SMART_APP_FHIR_USER": "Practitioner/5a1d9c0e-7d2b-5f4e-8c3a-1b2d3e4f5a6b"}  # fmt: skip
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_order_writes_the_draft_then_nothing_new(ehr: FhirClient, tmp_path: Path) -> None:
    first = _order(ehr, tmp_path)
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert {"check", "written", "kept_locally", "reason"} <= set(document)
    assert document["check"]["verdict"] == "ready" and document["kept_locally"] is False
    codes = [line["code"] for line in document["check"]["coding"]["lines"]]
    assert codes == ["64635", "64636"]
    assert [item["action"] for item in document["written"]] == ["created"] * 6
    before = inventory(ehr)

    again = _order(ehr, tmp_path)
    assert again.exit_code == 0, again.output
    assert {item["action"] for item in json.loads(again.stdout)["written"]} == {"unchanged"}
    assert inventory(ehr) == before


def test_bad_input_exits_2_with_one_line(ehr: FhirClient, tmp_path: Path) -> None:
    result = _order(ehr, tmp_path, "--levels", "L4-L9")
    assert result.exit_code == 2 and result.stdout == ""
    missing = _order(ehr, tmp_path, patient="no-such-patient")
    assert missing.exit_code == 2 and "no-such-patient" in missing.stderr


def test_an_unreachable_server_exits_3(tmp_path: Path) -> None:
    unreachable = FhirClient("http://127.0.0.1:9/fhir")
    result = _order(unreachable, tmp_path)
    assert result.exit_code == 3 and result.stdout == ""
