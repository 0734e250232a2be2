"""No tokens, codes or patient ids in the logs (at the INFO level the app runs at)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from smart_app.store.tokens import load_tokens
from tests.web.conftest import Browser, RunningApp
from tests.web.flows import as_json, ehr_launch, summary_src


def test_a_launch_a_refresh_and_a_relaunch_error_log_nothing_secret(
    app_server: RunningApp,
    auth_server: Any,
    patients: list[str],
    browser: Browser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    auth_server.set_switches(access_token_lifetime=30)
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    try:
        app_server.clock_offset[0] = 20  # past half of the 30 s lifetime: the next page load refreshes
        assert as_json(browser, page.url).status_code == 200
        launch_id = app_server.launch_id_of(page.url)
        with app_server.services.database.session() as db:
            tokens = load_tokens(db, app_server.services.cipher, launch_id)
        assert tokens is not None and tokens.refresh_count >= 1
        auth_server.set_switches(reject_refresh=True)
        app_server.clock_offset[0] = 40  # due again: the refresh is refused
        # the page itself reads nothing from the EHR; its summary is what needs the token
        assert browser.get(urljoin(page.url, summary_src(page.text))).status_code == 401
    finally:
        app_server.clock_offset[0] = 0
    callback = next(hop for hop in browser.hops if "/callback?" in hop)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /callback 302" in logged  # request lines are logged, without their query strings
    for secret in (tokens.access_token, code, patients[0]):
        assert secret not in logged
