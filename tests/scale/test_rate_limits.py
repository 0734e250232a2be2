"""Rate limits per browser session and per client address (in-process counters here; shared in Redis in
test_two_instances): 429 with Retry-After, as a page or an OperationOutcome; health checks never limited; behind
a trusted proxy the client address is the forwarded one."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import requests

from tests.web.conftest import serve_app


def test_each_browser_session_has_its_own_budget(tmp_path: Path) -> None:
    running = serve_app(tmp_path, [], RATE_LIMIT_PER_SESSION="3/minute", RATE_LIMIT_PER_ADDRESS="100/minute")
    try:
        first, second = requests.Session(), requests.Session()
        for browser, cookie in ((first, "session-one"), (second, "session-two")):
            browser.headers["Cookie"] = f"spine_auth_session={cookie}"
        assert [first.get(f"{running.url}/", timeout=10).status_code for _ in range(3)] == [200] * 3
        refused = first.get(f"{running.url}/", timeout=10)
        assert refused.status_code == 429
        assert "Too many requests" in refused.text
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["Cache-Control"] == "no-store"
        assert second.get(f"{running.url}/", timeout=10).status_code == 200  # another session: its own budget
        api = first.get(f"{running.url}/", headers={"Accept": "application/json"}, timeout=10)
        assert api.status_code == 429 and api.json()["resourceType"] == "OperationOutcome"
        assert requests.get(f"{running.url}/healthz", timeout=10).status_code == 200
    finally:
        running.stop()


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(tmp_path: Path) -> None:
    running = serve_app(tmp_path, [], RATE_LIMIT_PER_ADDRESS="2/minute", TRUSTED_PROXY_HOPS=1)
    try:

        def get(client: str) -> int:
            return requests.get(f"{running.url}/", headers={"X-Forwarded-For": client}, timeout=10).status_code

        assert [get("10.0.0.1"), get("10.0.0.1"), get("10.0.0.1")] == [200, 200, 429]
        assert get("10.0.0.2") == 200
    finally:
        running.stop()


def test_limits_can_be_turned_off(tmp_path: Path) -> None:
    running = serve_app(tmp_path, [], RATE_LIMIT_PER_ADDRESS="1/minute", RATE_LIMIT_ENABLED=False)
    try:
        assert [requests.get(f"{running.url}/", timeout=10).status_code for _ in range(3)] == [200] * 3
    finally:
        running.stop()


def test_a_failed_counter_store_degrades_to_counting_in_the_process(tmp_path: Path, caplog: Any) -> None:
    """Redis down (here: nothing listens on its port) must not fail requests: limits go on per process."""
    with socket.socket() as probe:  # a port that was free a moment ago: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = serve_app(
        tmp_path, [], RATE_LIMIT_PER_ADDRESS="2/minute", RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{port}/0"
    )
    try:
        with caplog.at_level(logging.WARNING, logger="smart_app.web.rate_limits"):
            statuses = [requests.get(f"{running.url}/", timeout=10).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert "rate-limit storage failed (ConnectionError); counting per process" in caplog.text
        assert str(port) not in caplog.text  # the warning names the kind of failure, not where the store is
    finally:
        running.stop()
