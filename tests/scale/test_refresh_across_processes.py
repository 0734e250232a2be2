"""Token refresh is single-flight across processes: requests for one launch reach two gunicorn instances (two
worker processes each) at the same moment, all needing a refresh; the sandbox authorization server, which rotates
refresh tokens (a used one is revoked), sees exactly one refresh, and every request succeeds. On PostgreSQL (row
lock: SELECT … FOR UPDATE) and on a shared SQLite file (the database write lock)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from smart_app.store.db import Database
from smart_app.store.tokens import LaunchTokens
from tests.scale.deployment import Deployment, deploy
from tests.web.conftest import READY, Browser, seeded_on
from tests.web.test_checklist_support import launch

pytestmark = pytest.mark.sandbox
CALLERS_PER_INSTANCE = 4


class TokenRequests(logging.Handler):
    """Counts `POST /token` requests the sandbox authorization server answers (its request log)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("POST /token"):
            self.lines.append(message)


@pytest.fixture
def token_requests() -> Iterator[TokenRequests]:
    logger = logging.getLogger("smart_app.sandbox.auth.server")
    handler, level = TokenRequests(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(params=["postgresql", "sqlite"])
def deployment(
    request: pytest.FixtureRequest, fhir_server: Any, auth_server: Any, tmp_path: Path
) -> Iterator[Deployment]:
    if request.param == "postgresql":
        deployment = request.getfixturevalue("pg_deployment")
        yield deployment
        return
    started = deploy(
        tmp_path,
        fhir_server,
        auth_server,
        database_url=f"sqlite:///{tmp_path / 'shared.sqlite'}",
        client_id=f"spine-auth-sqlite-{secrets.token_hex(4)}",
    )
    try:
        yield started
    finally:
        started.stop()


def refresh_count(deployment: Deployment, launch_id: str) -> tuple[int, str]:
    database = Database(deployment.database_url)
    try:
        with database.session() as db:
            row = db.get(LaunchTokens, launch_id)
            assert row is not None
            return row.refresh_count, row.refresh_token_enc or ""
    finally:
        database.dispose()


def test_two_processes_refresh_one_launch_at_once_exactly_one_refresh(
    deployment: Deployment, auth_server: Any, fhir_server: Any, token_requests: TokenRequests
) -> None:
    patient = seeded_on(fhir_server, [READY])[READY]
    browser = Browser()
    # The app refreshes at min(60 s, half the lifetime) before expiry: a 2 s token is due after 1 s.
    auth_server.set_switches(access_token_lifetime=2)
    launch_id = launch(browser, deployment.as_running_app(deployment.a), auth_server, patient)
    auth_server.set_switches(access_token_lifetime=3600)  # the refreshed token is fresh: one refresh is enough
    time.sleep(1.5)  # the launch's token is now inside its refresh window
    before, old_refresh_token = refresh_count(deployment, launch_id)
    token_requests.lines.clear()
    cookie = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)
    urls = [f"{instance.url}/s/{launch_id}/" for instance in deployment.instances()] * CALLERS_PER_INSTANCE
    barrier = threading.Barrier(len(urls))
    answers: list[requests.Response] = []

    def call(url: str) -> None:
        barrier.wait()
        answers.append(requests.get(url, headers={"Accept": "application/json", "Cookie": cookie}, timeout=60))

    fhir_server.configure(require_auth=True)  # the FHIR server checks every token with the auth server
    try:
        threads = [threading.Thread(target=call, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    finally:
        fhir_server.configure(require_auth=False)
    assert [answer.status_code for answer in answers] == [200] * len(urls), [a.text[:300] for a in answers]
    assert all(patient.id in answer.text for answer in answers)
    assert token_requests.lines == ["POST /token 200"]  # exactly one refresh reached the authorization server
    after, new_refresh_token = refresh_count(deployment, launch_id)
    assert after == before + 1
    assert new_refresh_token != old_refresh_token  # rotated
