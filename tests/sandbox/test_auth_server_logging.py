"""The server's logs (its own, authlib's, werkzeug's and those of its outgoing requests) never carry tokens,
codes, client secrets or patient names, even with every logger at DEBUG."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import TIMEOUT, create_patient, location_params, register_app


def test_no_tokens_codes_secrets_or_names_in_logs(
    auth_server: AuthServerHandle, fhir_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    patient = create_patient(fhir_server.base_url, family="Unloggable", given="Zelda")
    app = register_app(auth_server, "client_secret_basic")
    launch = app.ehr_launch(patient)["launch"]
    code = location_params(app.authorize(app.authorize_params("launch openid fhirUser offline_access", launch=launch)))[
        "code"
    ]
    token = app.exchange(code).json()
    refreshed = app.refresh(token["refresh_token"]).json()
    assert requests.get(f"{auth_server.base_url}/ehr", timeout=TIMEOUT).status_code == 200

    main = threading.main_thread().name
    # The test's own HTTP client (urllib3 in the main thread) logs the URLs it calls: not the server's logs.
    server_log = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not (record.threadName == main and record.name.startswith("urllib3"))
    )
    assert "POST /token 200" in server_log  # the server did log, just not the secrets
    secrets = [
        code,
        launch,
        token["access_token"],
        token["refresh_token"],
        token["id_token"],
        refreshed["access_token"],
    ]
    for secret in [*secrets, str(app.registration.client_secret), "Unloggable", "Zelda"]:
        assert secret not in server_log
