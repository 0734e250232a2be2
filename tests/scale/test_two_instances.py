"""Two gunicorn instances (two workers each) sharing PostgreSQL and Redis serve one clinician alternately:
launch on one, check on the other, save on the first; the session survives a restart of either instance; a second
patient after the first works the same; an instance started with other secrets refuses to start."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from smart_app import create_app
from smart_app.config import ConfigError
from smart_app.store.db import Database
from smart_app.store.migrate import current_revision, head_revision
from smart_app.store.tokens import LaunchTokens
from tests.scale.deployment import Deployment, Instance
from tests.web.conftest import ORDER_PATIENT, READY, Browser, seeded_on
from tests.web.flows import as_json
from tests.web.test_checklist_support import checklist_url, form_action, form_fields, launch, request_of

pytestmark = pytest.mark.sandbox


def on(instance: Instance, url: str) -> str:
    """The same path and query on another instance (what a load balancer does between requests)."""
    path = url.split("/", 3)[3]
    return f"{instance.url}/{path}"


def test_one_clinician_across_two_instances_and_restarts(
    pg_deployment: Deployment, auth_server: Any, fhir_server: Any
) -> None:
    deployment = pg_deployment
    patients = seeded_on(fhir_server, [ORDER_PATIENT, READY])
    with Browser() as browser:
        for name in (ORDER_PATIENT, READY):  # a second patient after the first, same browser session
            patient = patients[name]
            launch_id = launch(browser, deployment.as_running_app(deployment.a), auth_server, patient)
            # The launch happened on A; B knows the session and the launch (state in PostgreSQL).
            summary = as_json(browser, f"{deployment.b.url}/s/{launch_id}/")
            assert summary.status_code == 200, summary.text
            assert patient.id in summary.text

            fields = request_of(patient, as_of="2026-11-21")
            page = browser.get(checklist_url(deployment.as_running_app(deployment.b), launch_id, fields))
            assert page.status_code == 200, page.text
            assert "data-verdict=" in page.text
            if name != ORDER_PATIENT:
                continue
            # Save on A with the form B rendered (the CSRF token is bound to the session, not the instance).
            action = urljoin(deployment.a.url + "/", form_action(page.text, "data-save-order").lstrip("/"))
            saved = browser.post(action, data=form_fields(page.text, "data-save-order"), allow_redirects=False)
            if saved.status_code in (302, 303):
                saved = browser.get(urljoin(action, saved.headers["Location"]))
            assert saved.status_code == 200, saved.text
            assert "Draft order saved in the EHR" in saved.text

            # Restart each instance in turn: the browser session and the launch go on.
            for instance in deployment.instances():
                instance.restart()
                again = as_json(browser, f"{instance.url}/s/{launch_id}/")
                assert again.status_code == 200, again.text
                assert patient.id in again.text

    with Database(deployment.database_url).engine.connect() as connection:
        rows = connection.execute(LaunchTokens.__table__.select()).fetchall()
    assert len(rows) == 2  # the two launches, tokens encrypted with the shared key
    assert all(row.access_token_enc.startswith("gAAAA") for row in rows)


def test_schema_is_migrated_once_to_the_newest_revision(pg_deployment: Deployment) -> None:
    database = Database(pg_deployment.database_url)
    try:
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_an_instance_with_other_secrets_refuses_to_start(pg_deployment: Deployment, tmp_path: Any) -> None:
    settings = {**pg_deployment.settings, "INSTANCE_PATH": str(tmp_path / "other")}
    same = create_app(settings)  # the deployment's own settings start fine
    same.extensions["spine_auth"].database.dispose()
    with pytest.raises(ConfigError, match="SECRET_KEY differs"):
        create_app({**settings, "SECRET_KEY": "a-key-of-another-instance"})
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEYS"):
        create_app({**settings, "TOKEN_ENCRYPTION_KEYS": None})  # a key generated in its own instance folder


def test_rate_limits_are_counted_across_instances_in_redis(
    postgres: Any, redis_server: Any, fhir_server: Any, auth_server: Any, tmp_path: Any
) -> None:
    from tests.scale.deployment import deploy

    deployment = deploy(
        tmp_path,
        fhir_server,
        auth_server,
        database_url=postgres.create_database("ratelimits"),
        client_id="spine-auth-rate-limits",
        workers=1,
        RATE_LIMIT_STORAGE_URL=redis_server.url,
        RATE_LIMIT_PER_ADDRESS="6/minute",
    )
    try:
        answers = [
            requests.get(f"{instance.url}/", timeout=10) for _ in range(3) for instance in deployment.instances()
        ]
        assert [a.status_code for a in answers] == [200] * 6  # three on A, three on B: six of six
        refused = requests.get(f"{deployment.b.url}/", headers={"Accept": "application/json"}, timeout=10)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["issue"][0]["code"] == "throttled"
        page = requests.get(f"{deployment.a.url}/", timeout=10)
        assert page.status_code == 429 and "Too many requests" in page.text
        assert requests.get(f"{deployment.a.url}/healthz", timeout=10).status_code == 200  # never limited
    finally:
        deployment.stop()
