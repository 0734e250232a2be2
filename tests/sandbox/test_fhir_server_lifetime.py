"""No sandbox FHIR server outlives the process that started it, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.sandbox

STARTER = """
import sys, time
from smart_app.sandbox.fhir_server import start_fhir_server
handle = start_fhir_server(port=0)
print(handle.base_url, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_stops_when_its_starter_dies(signal_number: int) -> None:
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        assert starter.stdout is not None
        base_url = starter.stdout.readline().strip()
        assert requests.get(f"{base_url}/metadata", timeout=5).status_code == 200
        os.kill(starter.pid, signal_number)  # no finally, no atexit: the launcher gets no chance to clean up
        starter.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base_url}/metadata", timeout=1)
            except requests.ConnectionError:
                return
            time.sleep(0.1)
        pytest.fail(f"the FHIR server at {base_url} outlived the process that started it")
    finally:
        if starter.poll() is None:
            starter.kill()
