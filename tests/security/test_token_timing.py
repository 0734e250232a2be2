"""Issue 14 item 10: an access token is refreshed when the 60 s margin or half its lifetime remains, whichever
is shorter; a 30 s token is no longer refreshed on every request."""

from __future__ import annotations

from typing import Any

from smart_app.store.tokens import load_tokens
from tests.web.conftest import Browser, RunningApp
from tests.web.flows import as_json, ehr_launch


def _refresh_count(app: RunningApp, launch_id: str) -> int:
    with app.services.database.session() as db:
        tokens = load_tokens(db, app.services.cipher, launch_id)
    assert tokens is not None
    return tokens.refresh_count


def test_a_30_second_token_is_used_for_half_its_lifetime_then_refreshed_once(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(access_token_lifetime=30)
    fhir_server.configure(require_auth=True)
    try:
        page = ehr_launch(browser, app_server, auth_server, patients[0])
        assert page.status_code == 200, page.text
        launch_id = app_server.launch_id_of(page.url)
        for _ in range(3):  # within the first half of the lifetime: the token is used as is
            assert as_json(browser, page.url).status_code == 200
        assert _refresh_count(app_server, launch_id) == 0
        app_server.clock_offset[0] = 16  # 14 s left: less than half of 30 s
        assert as_json(browser, page.url).status_code == 200
        assert _refresh_count(app_server, launch_id) == 1
        assert as_json(browser, page.url).status_code == 200  # the new 30 s token is fresh again
        assert _refresh_count(app_server, launch_id) == 1
    finally:
        app_server.clock_offset[0] = 0
        fhir_server.configure(require_auth=False)


def test_a_one_hour_token_is_refreshed_only_in_its_last_minute(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(access_token_lifetime=3600)
    page = ehr_launch(browser, app_server, auth_server, patients[1])
    launch_id = app_server.launch_id_of(page.url)
    try:
        app_server.clock_offset[0] = 1900  # past half its lifetime, but 1,700 s left: not yet
        assert as_json(browser, page.url).status_code == 200
        assert _refresh_count(app_server, launch_id) == 0
        app_server.clock_offset[0] = 3550  # inside the 60 s margin
        assert as_json(browser, page.url).status_code == 200
        assert _refresh_count(app_server, launch_id) == 1
    finally:
        app_server.clock_offset[0] = 0
