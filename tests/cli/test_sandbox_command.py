"""`smart-app sandbox` (what `make run` starts): the FHIR server, the authorization server and the app come up
together with the seeded patients, the printed launch page lists them, and a launch reaches the app with a token.

The command runs as a real subprocess on free ports, exactly as a user starts it.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from smart_app.sandbox.seed import seed_patients
from tests.web.conftest import Browser

pytestmark = pytest.mark.sandbox

STARTUP_TIMEOUT_SECONDS = 60


class SandboxProcess:
    def __init__(self, process: subprocess.Popen[str], output: list[str]) -> None:
        self.process = process
        self.output = output

    def url(self, label: str) -> str:
        for line in self.output:
            match = re.match(rf"\s+{re.escape(label)}:\s+(\S+)", line)
            if match:
                return match.group(1).rstrip("/")
        raise AssertionError(f"{label!r} not printed:\n" + "\n".join(self.output))


@pytest.fixture(scope="module")
def sandbox_command(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    instance = tmp_path_factory.mktemp("sandbox-instance")
    command = [sys.executable, "-m", "smart_app.cli", "sandbox", "--app-port", "0", "--auth-port", "0"]
    command += ["--fhir-port", "0", "--instance", str(instance)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    try:
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line.rstrip("\n"))
            if line.strip().startswith("(started in"):
                break
        assert any("EHR launch page:" in line for line in output), "\n".join(output)
        yield SandboxProcess(process, output)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_it_prints_every_address_and_a_token_for_the_command_line(sandbox_command: SandboxProcess) -> None:
    text = "\n".join(sandbox_command.output)
    assert sandbox_command.url("EHR launch page").endswith("/ehr")
    assert sandbox_command.url("FHIR base").endswith("/fhir")
    assert f"Seeded patients:  {len(seed_patients())}" in text
    assert re.search(r"export SMART_APP_FHIR_TOKEN=\S{20,}", text)


def test_the_fhir_server_requires_a_token_and_the_printed_one_works(sandbox_command: SandboxProcess) -> None:
    fhir = sandbox_command.url("FHIR base")
    assert requests.get(f"{fhir}/Patient", timeout=10).status_code == 401
    token = re.search(r"SMART_APP_FHIR_TOKEN=(\S+)", "\n".join(sandbox_command.output))
    assert token
    bundle = requests.get(
        f"{fhir}/Patient?_count=100", headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10
    )
    assert bundle.status_code == 200
    ids = {entry["resource"]["id"] for entry in bundle.json()["entry"]}
    assert {patient.id for patient in seed_patients()} <= ids


def test_the_launch_page_lists_the_seeded_patients(sandbox_command: SandboxProcess) -> None:
    page = requests.get(sandbox_command.url("EHR launch page"), timeout=10)
    assert page.status_code == 200
    text = html.unescape(page.text)
    for patient in seed_patients():
        assert patient.id in text
        assert patient.display_name in text


def test_a_launch_from_the_launch_page_reaches_the_app_with_a_valid_token(
    sandbox_command: SandboxProcess, tmp_path: Path
) -> None:
    ehr_page = sandbox_command.url("EHR launch page")
    patient = seed_patients()[0]
    links = re.findall(r'href="([^"]*/ehr/launch\?[^"]*)"', requests.get(ehr_page, timeout=10).text)
    [link] = [html.unescape(href) for href in links if f"patient={patient.id}" in href and "frame=1" not in href]

    browser = Browser()
    hop = browser.get(urljoin(ehr_page, link), allow_redirects=False)
    assert hop.status_code == 302
    app_launch = hop.headers["Location"]
    assert app_launch.startswith(sandbox_command.url("App") + "/launch.html?")
    # launch.html forwards iss and launch to /launch (a script in the browser); then authorize → callback → app.
    landed = browser.follow(app_launch.replace("/launch.html?", "/launch?", 1))
    assert landed.status_code == 200, landed.text[:500]
    assert re.search(r"/s/[^/]+/$", landed.url)
    summary = browser.get(landed.url, headers={"Accept": "application/json"}).json()
    # The app read the record with the access token it was given: a token the FHIR server accepted.
    assert summary["patient"] == patient.id
    assert summary["counts"]["Patient"] == 1 and summary["counts"]["Condition"] >= 1
    assert summary["unreadable"] == {}
    assert summary["writeMode"] == "write"
    assert "patient/Condition.rs" in summary["scopesGranted"]
