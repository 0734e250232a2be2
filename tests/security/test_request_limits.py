"""Issue 14 item 5: hostile requests get clear 4xx answers, never a 500 or an unbounded read: bodies over the limit
get 413 (OperationOutcome for JSON callers, a page for browsers), deeply nested JSON 400, a malformed iss 400, an
over-long request line 414, and the request logger never raises."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import Browser, RunningApp
from tests.web.flows import ehr_launch

MIB = 1024 * 1024


@pytest.fixture
def launch_url(app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser) -> str:
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 200, page.text
    return page.url.rstrip("/")


def _issue_code(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["details"]["coding"][0]["code"])


def test_a_json_body_over_the_limit_is_refused_with_413_before_it_is_read(launch_url: str, browser: Browser) -> None:
    body = b'{"procedure": "' + b"x" * (5 * MIB) + b'"}'
    response = browser.post(f"{launch_url}/api/check", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert _issue_code(response) == "body-too-large"
    assert "1,048,576 bytes" in response.json()["issue"][0]["details"]["text"]


def test_a_chunked_json_body_over_the_limit_is_cut_off_with_413(launch_url: str, browser: Browser) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: only reading it shows the size
        yield b'{"procedure": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    response = browser.post(f"{launch_url}/api/check", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert _issue_code(response) == "body-too-large"


def test_a_form_over_the_limit_gets_a_413_page(launch_url: str, browser: Browser) -> None:
    response = browser.post(f"{launch_url}/orders", data={"note": "x" * (2 * MIB)}, allow_redirects=False)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'data-error-code="body-too-large"' in response.text
    assert "larger than the 1,048,576 bytes" in response.text


def test_deeply_nested_json_is_a_400_not_a_500(launch_url: str, browser: Browser) -> None:
    depth = 200_000  # 400 KB: under the size limit, far past the parser's recursion limit
    body = b"[" * depth + b"]" * depth
    response = browser.post(f"{launch_url}/api/check", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _issue_code(response) == "bad-json"


@pytest.mark.parametrize("iss", ["http://[::1", "http://[::1]:99999/fhir", "https://ehr.example:port/fhir"])
def test_a_malformed_iss_is_a_400(app_server: RunningApp, browser: Browser, iss: str) -> None:
    page = browser.get(f"{app_server.url}/launch", params={"iss": iss, "launch": "x"}, allow_redirects=False)
    assert page.status_code == 400
    assert 'data-error-code="bad-iss"' in page.text
    api = browser.get(
        f"{app_server.url}/launch", params={"iss": iss}, headers={"Accept": "application/json"}, allow_redirects=False
    )
    assert api.status_code == 400
    assert _issue_code(api) == "bad-iss"


def _raw_request_line(url: str, target_length: int) -> bytes:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    with sock:
        target = b"/launch?iss=" + b"a" * target_length
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("length", [20_000, 70_000])
def test_an_over_long_request_line_gets_414_and_the_logger_does_not_raise(
    app_server: RunningApp, browser: Browser, length: int, caplog: pytest.LogCaptureFixture, capfd: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="smart_app.web.requests"):
        answer = _raw_request_line(app_server.url, length)
    assert answer.startswith(b"HTTP/1.1 414"), answer[:200]
    logged = [record.getMessage() for record in caplog.records if record.name == "smart_app.web.requests"]
    assert any("414" in line for line in logged)
    assert all("aaaa" not in line for line in logged)  # the query never reaches the log
    assert "Traceback" not in capfd.readouterr().err
    assert browser.get(f"{app_server.url}/healthz").status_code == 200  # the server still serves
