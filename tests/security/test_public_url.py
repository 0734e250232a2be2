"""Issue 14 item 8: the redirect URI comes only from PUBLIC_URL, never from the request's Host header, and
`smart-app serve` refuses to start without PUBLIC_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from smart_app import create_app
from smart_app.config import ConfigError
from smart_app.web.server import make_app_server
from tests.web.conftest import RunningApp

FORGED_HOST = "attacker.example"


def _launch_url(app_url: str, fhir_base: str) -> str:
    return f"{app_url}/launch?" + urlencode({"iss": fhir_base, "launch": "any-launch-id"})


@pytest.fixture
def app_without_public_url(fhir_server: Any, auth_server: Any, tmp_path: Path) -> Iterator[str]:
    """The app served with the sandbox as its EHR but no PUBLIC_URL (a deployer forgot it)."""
    entry = {"name": "sandbox", "iss": fhir_server.base_url, "client_id": "spine-auth-no-public-url"}
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "EHRS": [entry]})
    server = make_app_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_forged_host_header_does_not_change_the_redirect_uri(app_server: RunningApp, fhir_server: Any) -> None:
    response = requests.get(
        _launch_url(app_server.url, fhir_server.base_url),
        headers={"Host": FORGED_HOST},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["redirect_uri"] == [f"{app_server.url}/callback"]
    assert FORGED_HOST not in response.headers["Location"]


def test_without_public_url_a_launch_is_refused_instead_of_trusting_the_host_header(
    app_without_public_url: str, fhir_server: Any
) -> None:
    response = requests.get(
        _launch_url(app_without_public_url, fhir_server.base_url),
        headers={"Host": FORGED_HOST},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 500
    assert "Location" not in response.headers
    assert FORGED_HOST not in response.text
    assert "PUBLIC_URL" in response.text


def test_a_malformed_public_url_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        create_app({"INSTANCE_PATH": str(tmp_path), "PUBLIC_URL": "spine-auth.example/app?x=1"})


def _serve(tmp_path: Path, **extra_env: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMART_APP_")}
    env.update({"SMART_APP_EHRS": "[]", "SMART_APP_INSTANCE_PATH": str(tmp_path / "instance"), **extra_env})
    command = [sys.executable, "-m", "smart_app.cli", "serve", "--port", "0"]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_refuses_to_start_without_public_url(tmp_path: Path) -> None:
    process = _serve(tmp_path)
    try:
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2
    assert "PUBLIC_URL is not set" in err
    assert not (tmp_path / "instance").exists()  # refused before anything was created


def test_serve_starts_with_public_url(tmp_path: Path) -> None:
    process = _serve(tmp_path, SMART_APP_PUBLIC_URL="https://spine-auth.example")
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert '"event": "listening"' in first_line
    finally:
        process.terminate()
        process.wait(timeout=10)
