"""`smart-app seed` end to end against the sandbox FHIR server, through click's CliRunner."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from smart_app.cli import main
from smart_app.sandbox.seed import loader, scenario_names, seed_bundles, seed_patients
from tests.conftest import free_port
from tests.seed.records import resources


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["seed", *args], env={"SMART_APP_FHIR_TOKEN": "", **(env or {})})


@pytest.fixture
def server(empty_fhir_server: Any) -> Any:
    """The emptied FHIR server with its request counters at zero."""
    empty_fhir_server.reset_stats()
    return empty_fhir_server


def test_only_accepts_repeated_and_comma_separated_names() -> None:
    wanted = {"pars-dynamic-instability", "lumbar-mbb-fibromyalgia", "lumbar-mbb-after-alif"}
    result = run(
        "--list", "--only", "pars-dynamic-instability,lumbar-mbb-fibromyalgia", "--only", "lumbar-mbb-after-alif"
    )
    assert result.exit_code == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert listed == [name for name in scenario_names() if name in wanted]


def test_list_needs_no_server_and_shows_every_patient_with_its_request() -> None:
    result = run("--list")
    assert result.exit_code == 0
    for patient in seed_patients():
        assert patient.name in result.stdout and patient.id in result.stdout
    assert "smart-app check --fhir-base URL --patient" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((), "--fhir-base URL is required"),
        (("--fhir-base", "ftp://example.org/fhir"), "must be an http(s) URL"),
        (("--fhir-base", "not a url"), "must be an http(s) URL"),
        (("--list", "--only", "no-such-patient"), "unknown seed patient no-such-patient"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], reason: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert reason in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.sandbox
def test_loads_the_named_patient_into_the_sandbox(server: Any) -> None:
    (patient,) = seed_patients(["pars-chronic-defect-edema-ready"])
    result = run("--fhir-base", server.base_url, "--only", patient.name)
    assert result.exit_code == 0, result.stderr
    assert f"Patient/{patient.id}  {patient.name}" in result.stdout
    stored = requests.get(f"{server.base_url}/Patient/{patient.id}", timeout=30)
    assert stored.status_code == 200 and stored.json()["name"][0]["family"] == "Kowalski"
    assert server.stats()["withAuthorization"] == 0


@pytest.mark.sandbox
def test_token_from_the_environment_is_sent_and_never_printed(server: Any) -> None:
    result = run(
        "--fhir-base", server.base_url, "--only", "lumbar-mbb-fibromyalgia", env={"SMART_APP_FHIR_TOKEN": "s3cr3t-tok"}
    )
    assert result.exit_code == 0, result.stderr
    stats = server.stats()
    assert stats["requests"] == stats["withAuthorization"] == 2
    assert "s3cr3t-tok" not in result.stdout + result.stderr


@pytest.mark.sandbox
def test_refusal_by_a_server_that_requires_a_token_exits_3(server: Any) -> None:
    server.configure(require_auth=True)
    result = run("--fhir-base", server.base_url)
    assert result.exit_code == 3
    assert "refused seed bundle 'sandbox-user' (HTTP 401)" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.sandbox
def test_invalid_bundle_exits_3_with_the_operation_outcome_diagnostics(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_a_broken_patient(only: Any = None) -> list[tuple[str, dict[str, Any]]]:
        bundles = seed_bundles(["lumbar-mbb-fibromyalgia"])
        name, bundle = bundles[1]
        broken = copy.deepcopy(bundle)
        resources(broken, "Observation")[0]["status"] = "done-ish"
        return [bundles[0], (name, broken)]

    monkeypatch.setattr(loader, "seed_bundles", with_a_broken_patient)
    result = run("--fhir-base", server.base_url)
    assert result.exit_code == 3
    assert "refused seed bundle 'lumbar-mbb-fibromyalgia' (HTTP 400)" in result.stderr
    assert "status" in result.stderr.split("(HTTP 400):", 1)[1]
    patients = requests.get(f"{server.base_url}/Patient", params={"_summary": "count"}, timeout=30).json()
    assert patients["total"] == 0


def test_unreachable_server_exits_3() -> None:
    result = run("--fhir-base", f"http://127.0.0.1:{free_port()}/fhir")
    assert result.exit_code == 3
    assert "unreachable" in result.stderr and result.stderr.count("\n") == 1
