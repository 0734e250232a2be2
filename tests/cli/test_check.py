"""`smart-app check` offline: formats, answers, payer choice, and bad input (exit 2, one line, nothing on stdout)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cases.support import run_check, schema_errors
from tests.conftest import CASES_DIR, PROJECT_ROOT

CONFIRMATORY = CASES_DIR / "lumbar-mbb-confirmatory-low-relief.bundle.json"
NO_DISABILITY = CASES_DIR / "lumbar-facet-no-disability-score.bundle.json"
PARS = CASES_DIR / "pars-injection-bme-ready.bundle.json"
MBB = ["--procedure", "medial-branch-block", "--intent", "diagnostic", "--levels", "L4-5,L5/S1", "--side", "bilateral"]
AS_OF = ["--as-of", "2026-11-15"]


def test_text_output_reads_verdict_first_then_criteria_coding_and_warnings() -> None:
    run = run_check("--bundle", str(CONFIRMATORY), *MBB, *AS_OF, "--format", "text")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "NOT-ELIGIBLE  (facet-diagnostic-confirmatory)"
    assert "bilateral L4-L5, L5-S1 (lumbar)" in lines[1]  # canonical levels
    assert any(line.startswith("  NOT MET  DX2-02") for line in lines)
    assert any("57% relief within 12 h" in line for line in lines)
    assert any(line.strip().startswith("clause: LCD L38773") for line in lines)
    assert "Coding" in lines and any(line.startswith("  64493 -50 -KX") for line in lines)
    assert "Warnings" in lines


def test_json_is_the_default_when_stdout_is_not_a_terminal() -> None:
    run = run_check("--bundle", str(CONFIRMATORY), *MBB, *AS_OF)
    result = run.json()
    assert schema_errors(result) == []
    assert result["request"]["levels"] == ["L4-L5", "L5-S1"]


def test_answers_attest_unknown_criteria(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"GEN-07": {"status": "met", "note": "ODI 44% on the scanned intake form"}}))
    result = run_check("--bundle", str(NO_DISABILITY), *MBB, *AS_OF, "--answers", str(answers)).json()
    assert schema_errors(result) == []
    [criterion] = [c for c in result["criteria"] if c["id"] == "GEN-07"]
    assert (criterion["status"], criterion["origin"]) == ("met", "attested")
    assert result["verdict"] == "ready"


def test_payer_comes_from_the_flag_else_a_recognised_coverage_else_medicare() -> None:
    chosen = run_check("--bundle", str(CONFIRMATORY), *MBB, *AS_OF, "--payer", "Aetna").json()
    assert chosen["request"]["payer"] == "aetna"
    assert "Aetna" in chosen["policy"]["title"]
    from_coverage = run_check("--bundle", str(CONFIRMATORY), *MBB, *AS_OF).json()
    assert from_coverage["request"]["payer"] == "medicare"
    assert "from the record's Coverage" in from_coverage["warnings"][0]["message"]
    pars = ["--procedure", "pars-injection", "--levels", "L5", "--side", "bilateral"]
    assumed = run_check("--bundle", str(PARS), *pars, *AS_OF).json()  # "Acme Health PPO" is no known payer
    assert assumed["request"]["payer"] == "medicare"
    assert "assumed (Coverage names no known payer: Acme Health PPO)" in assumed["warnings"][0]["message"]


@pytest.fixture
def not_json(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("this is not JSON")
    return path


@pytest.fixture
def patientless(tmp_path: Path) -> Path:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bundle", "{missing}", *MBB], "cannot read bundle file"),
        (["--bundle", "{not_json}", *MBB], "is not JSON"),
        (["--bundle", "{patientless}", *MBB], "the bundle holds no Patient"),
        (["--bundle", str(CASES_DIR / "cases.json"), *MBB], "expected a FHIR Bundle, got list"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--patient", "nobody"], "no Patient with id 'nobody'"),
        (["--bundle", str(CONFIRMATORY), *MBB[:-2], "--side", "up"], "Invalid value for '--side'"),
        (["--bundle", str(CONFIRMATORY), *MBB[:-2]], "Missing option '--side'"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--colour", "red"], "No such option '--colour'"),
        (
            ["--bundle", str(CONFIRMATORY), "--procedure", "medial-branch-block", "--levels", "L4", "--side", "left"],
            "--intent",
        ),
        (["--bundle", str(CONFIRMATORY), *MBB[:4], "--levels", "L3-L5", "--side", "left"], "adjacent"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--technique", "pulsed"], "radiofrequency ablation only"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--payer", "acme"], "unknown payer 'acme'"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--as-of", "15/11/2026"], "--as-of must be a date"),
        (["--bundle", str(CONFIRMATORY), *MBB, "--answers", "{not_json}"], "answers file"),
        (MBB, "give either --bundle FILE or --fhir-base URL --patient ID"),
        (["--fhir-base", "http://127.0.0.1:9/fhir", *MBB], "--fhir-base needs --patient ID"),
        (["--fhir-base", "ftp://example/fhir", "--patient", "p1", *MBB], "absolute http(s) URL"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, not_json: Path, patientless: Path, tmp_path: Path
) -> None:
    paths = {"missing": tmp_path / "nope.json", "not_json": not_json, "patientless": patientless}
    run = run_check(*(arg.format(**paths) for arg in args))
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("Error: ")
    assert message in run.stderr


@pytest.mark.parametrize(
    ("answers", "message"),
    [({"GEN-07": {"status": "met"}}, "a note"), (["GEN-07"], "JSON object")],
)
def test_malformed_answers_exit_2(tmp_path: Path, answers: object, message: str) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    run = run_check("--bundle", str(NO_DISABILITY), *MBB, "--answers", str(path))
    assert (run.exit_code, run.stdout) == (2, "")
    assert message in run.stderr


def test_the_installed_command_end_to_end() -> None:
    command = [str(Path(sys.executable).parent / "smart-app"), "check", "--bundle", str(CONFIRMATORY), *MBB, *AS_OF]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["verdict"] == "not-eligible"
    bad = subprocess.run([*command, "--side", "up"], capture_output=True, text=True, timeout=60, check=False)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("levels", "status"),
    [("C7-T1,T1-T2", "met"), ("C6-C7,C7-T1", "met"), ("C5-C6,L4-L5", "not-met")],
)
def test_one_session_region_is_cervical_thoracic_or_lumbar_sacral(levels: str, status: str) -> None:
    cervical = CASES_DIR / "cervical-mbb-right-ready.bundle.json"
    request = ["--procedure", "medial-branch-block", "--intent", "diagnostic", "--side", "right", "--levels", levels]
    result = run_check("--bundle", str(cervical), *request, *AS_OF).json()
    [gen12] = [c for c in result["criteria"] if c["id"] == "GEN-12"]
    assert gen12["status"] == status
