"""The sandbox payer validates what it receives with HAPI FHIR's validator (tools/fhir-validator in server mode):
the packet's PAS request Bundles of two patients are accepted and decided, and the payer's own response Bundles
pass the PAS response Bundle profile; a profile error is answered 400 with an OperationOutcome naming the element
and nothing is recorded; a submission waits for a validator still loading, and is refused (503), never decided
unchecked, when the validator is gone; without the jar the payer says it checks structure only."""

from __future__ import annotations

import copy
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from smart_app.sandbox.payer import PasValidator, PayerHandle, start_payer_server, start_validator
from smart_app.sandbox.payer.known_gaps import unexpected_issues
from smart_app.sandbox.payer.validator import REQUEST_BUNDLE_PROFILE, RESPONSE_BUNDLE_PROFILE
from smart_app.workflow.submission import review_actions
from tests.payer.conftest import VALIDATOR_SETTINGS, ClientHost
from tests.payer.packets import SECOND_PATIENT, packet_bundle, resource_of
from tests.payer.test_payer import bearer, codes, submit

pytestmark = pytest.mark.sandbox


def _valid_response(validator: PasValidator, response_bundle: dict[str, Any]) -> list[str]:
    """The response Bundle's errors against PAS's response Bundle profile, the known gaps left out."""
    outcome = validator.validate(response_bundle, RESPONSE_BUNDLE_PROFILE)
    return [f"{i['expression'][0]}: {i['diagnostics']}" for i in unexpected_issues(outcome)]


def _without_beneficiary(bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    broken = copy.deepcopy(bundle)
    index, coverage = resource_of(broken, "Coverage")
    del coverage["beneficiary"]
    return index, broken


def test_packet_bundles_of_two_patients_are_accepted_decided_and_answered_with_valid_pas_responses(
    payer: PayerHandle, client_host: ClientHost, pas_validator: PasValidator
) -> None:
    headers = bearer(payer, client_host)
    first, second = packet_bundle(), packet_bundle(SECOND_PATIENT)
    assert unexpected_issues(pas_validator.validate(first, REQUEST_BUNDLE_PROFILE)) == []
    answers = []
    for bundle in (first, second, first):  # the first patient twice: the same answer, no second decision
        response = submit(payer, headers, bundle)
        assert response.status_code == 200, response.text[:2000]
        answers.append(response.json())
        assert codes(answers[-1]) == ["A1", "A1"]
        assert _valid_response(pas_validator, answers[-1]) == []
    assert answers[2] == answers[0] and answers[1] != answers[0]
    stats = payer.stats()
    assert (stats["submits"], stats["decisions"], stats["claims"]) == (3, 2, 2)

    payer.set_switches(mode="deny", deny_reason="units")
    denied = submit(payer, headers, packet_bundle(SECOND_PATIENT)).json()
    assert (
        codes(denied) == ["A3", "A3"] and "units exceed" in review_actions(denied["entry"][0]["resource"])[0]["reason"]
    )
    assert _valid_response(pas_validator, denied) == []

    subscription = {"resourceType": "Subscription", "status": "requested", "reason": "tests", "criteria": "PAS",
                    "channel": {"type": "rest-hook", "endpoint": f"{client_host.url}/notify"}}  # fmt: skip
    created = requests.post(f"{payer.fhir_base}/Subscription", json=subscription, headers=headers, timeout=10)
    assert created.status_code == 201
    payer.set_switches(mode="pend", pend_seconds=0.2, then="approve")
    pended = submit(payer, headers, packet_bundle()).json()
    assert codes(pended) == ["A4", "A4"] and _valid_response(pas_validator, pended) == []
    [(_authorization, notification)] = client_host.wait_for_notifications(1)
    decided = notification["entry"][1]["resource"]
    assert codes(decided) == ["A1", "A1"] and decided["entry"][0]["resource"]["preAuthRef"].startswith("SBX-")
    assert _valid_response(pas_validator, decided) == []


def test_a_profile_error_is_answered_400_naming_the_element_and_nothing_is_recorded(
    payer: PayerHandle, client_host: ClientHost
) -> None:
    headers = bearer(payer, client_host)
    good = packet_bundle()
    coverage_index, no_beneficiary = _without_beneficiary(good)
    response = submit(payer, headers, no_beneficiary)
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"]
    assert all(issue["severity"] in ("error", "fatal") and issue["expression"] for issue in outcome["issue"])
    named = outcome["issue"][0]  # what to fix comes first, before the profile-choice consequences
    assert named["expression"][0].startswith(f"Bundle.entry[{coverage_index}].resource")
    assert named["expression"][0].endswith(".beneficiary")
    assert "Coverage.beneficiary: minimum required = 1" in named["diagnostics"]
    consequences = ("did not match any of the allowed profiles", "Unable to find a", "profile-claim-update|2.2.1")
    assert any(text in outcome["issue"][-1]["diagnostics"] for text in consequences)
    assert len({(i["expression"][0], i["diagnostics"]) for i in outcome["issue"]}) == len(outcome["issue"])
    assert not any("extension-Claim.encounter" in i["diagnostics"] for i in outcome["issue"])  # a known gap

    bad_gender = copy.deepcopy(good)
    patient_index, patient = resource_of(bad_gender, "Patient")
    patient["gender"] = "robot"
    outcome = submit(payer, headers, bad_gender).json()
    assert f"Bundle.entry[{patient_index}].resource/*Patient/null*/.gender" in {
        i["expression"][0] for i in outcome["issue"]
    }
    no_code = copy.deepcopy(good)  # the structural first pass answers without asking the validator
    del no_code["entry"][0]["resource"]["item"][0]["productOrService"]
    structural = submit(payer, headers, no_code)
    assert structural.status_code == 400
    assert [i["expression"] for i in structural.json()["issue"]] == [["Claim.item[0].productOrService"]]

    stats = payer.stats()
    assert (stats["submits"], stats["decisions"], stats["claims"]) == (0, 0, 0)
    accepted = submit(payer, headers, good)  # the same Claim identifier, now valid: decided once, as new
    assert accepted.status_code == 200 and codes(accepted.json()) == ["A1", "A1"]
    assert payer.stats()["decisions"] == 1


def test_a_submission_waits_for_a_validator_still_loading(client_host: ClientHost) -> None:
    handle = start_payer_server(validator=replace(VALIDATOR_SETTINGS, ready_timeout=150.0))  # its own JVM
    validator = handle.state.validator
    try:
        assert validator is not None and not validator.ready
        assert "loading" in handle.validation
        handle.set_switches(require_auth=False, mode="approve")
        _index, no_beneficiary = _without_beneficiary(packet_bundle())
        started = time.monotonic()
        first = requests.post(f"{handle.fhir_base}/Claim/$submit", json=no_beneficiary, timeout=200)
        waited = time.monotonic() - started
        assert validator.ready and first.status_code == 400  # validated after the wait, not skipped
        assert waited > 2.0, waited
        assert any(i["expression"][0].endswith(".beneficiary") for i in first.json()["issue"])
        second = requests.post(f"{handle.fhir_base}/Claim/$submit", json=packet_bundle(), timeout=60)
        assert second.status_code == 200 and handle.stats()["decisions"] == 1
    finally:
        handle.stop()
    assert validator.exited()  # the payer that started it stopped it


def test_a_validator_that_cannot_answer_gives_503_and_nothing_is_decided(client_host: ClientHost) -> None:
    validator = start_validator(replace(VALIDATOR_SETTINGS, ready_timeout=1.0))
    handle = start_payer_server(validator=validator)
    try:
        handle.set_switches(require_auth=False, mode="approve")
        still_loading = requests.post(f"{handle.fhir_base}/Claim/$submit", json=packet_bundle(), timeout=30)
        assert still_loading.status_code == 503 and still_loading.headers["Retry-After"] == "5"
        issue = still_loading.json()["issue"][0]
        assert issue["code"] == "transient" and "did not load its packages within 1 s" in issue["diagnostics"]
        validator.stop()
        gone = requests.post(f"{handle.fhir_base}/Claim/$submit", json=packet_bundle(), timeout=30)
        assert gone.status_code == 503 and "the validator exited" in gone.json()["issue"][0]["diagnostics"]
        assert handle.stats()["decisions"] == 0 and handle.stats()["claims"] == 0
    finally:
        handle.stop()
        validator.stop()


def test_without_the_jar_the_payer_checks_structure_only_and_says_how_to_build_it(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING, logger="smart_app.sandbox.payer"):
        handle = start_payer_server(validator=replace(VALIDATOR_SETTINGS, jar=tmp_path / "fhir-validator.jar"))
    try:
        said = [record.getMessage() for record in caplog.records]
        assert len(said) == 1 and "validates structure only" in said[0] and "make fhir-validator" in said[0]
        assert handle.state.validator is None and handle.validation == "structure only"
        handle.set_switches(require_auth=False, mode="approve")
        _index, no_beneficiary = _without_beneficiary(packet_bundle())
        response = requests.post(f"{handle.fhir_base}/Claim/$submit", json=no_beneficiary, timeout=30)
        assert response.status_code == 200  # structure only: the profile error goes unnoticed, as the log said
    finally:
        handle.stop()


def test_the_validator_server_answers_on_loopback_only(pas_validator: PasValidator) -> None:
    ready = requests.get(f"{pas_validator.url}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["loadSeconds"] > 0
    assert requests.get(f"{pas_validator.url}/validate", timeout=10).status_code == 405
    assert requests.post(f"{pas_validator.url}/validate/elsewhere", data=b"{}", timeout=10).status_code == 404
    unknown = requests.post(
        f"{pas_validator.url}/validate",
        params={"profile": "http://example.org/no-such-profile"},
        data=b"{}",
        timeout=10,
    )
    assert unknown.status_code == 400 and unknown.json()["issue"][0]["code"] == "not-found"
    patient = {"resourceType": "Patient", "gender": "robot"}
    outcome = requests.post(f"{pas_validator.url}/validate", json=patient, timeout=30).json()
    assert any(i["expression"] == ["Patient.gender"] for i in outcome["issue"] if i["severity"] == "error")
    with pytest.raises(requests.ConnectionError):  # bound to 127.0.0.1, not to every loopback address
        requests.get(f"http://127.0.0.2:{pas_validator.port}/ready", timeout=5)


def test_the_validator_jvm_ends_with_the_process_that_started_it() -> None:
    script = (
        "import sys, time; from dataclasses import replace; from pathlib import Path\n"
        "from smart_app.sandbox.payer.validator import ValidatorSettings, start_validator\n"
        "v = start_validator(ValidatorSettings(igs_dir=Path(sys.argv[1])))\n"
        "print(v.pid, flush=True); time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(VALIDATOR_SETTINGS.igs_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        jvm = int(parent.stdout.readline())
        assert _alive(jvm)
        parent.send_signal(signal.SIGKILL)  # no clean-up code runs in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _alive(jvm) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(jvm)
    finally:
        parent.kill()
        parent.wait(timeout=10)


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")


@pytest.mark.parametrize(
    ("flags", "warned"),
    [(["--validator-igs", "{empty}"], True), (["--no-validator"], False)],
)
def test_smart_app_payer_says_what_it_checks(flags: list[str], warned: bool, tmp_path: Path) -> None:
    command = [str(Path(sys.executable).with_name("smart-app")), "payer", "--port", "0"]
    command += [flag.format(empty=tmp_path) for flag in flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        assert first.startswith("sandbox payer: http://127.0.0.1:")
        assert second.strip() == "sandbox payer checks submissions: structure only"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, errors = process.communicate(timeout=20)
    assert process.returncode == 0
    told = [line for line in errors.splitlines() if "validates structure only" in line]
    assert len(told) == (1 if warned else 0)
    if warned:
        assert f"are not in {tmp_path}" in told[0]
