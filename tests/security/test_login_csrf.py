"""Issue 14 item 2: a callback URL captured from someone else's launch, opened by a browser that did not start the
launch (no app cookie), logs nobody in; the state is not used up, so the browser that started it still can."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Browser as PlaywrightBrowser

from smart_app.store.audit import events
from smart_app.store.launches import Launch
from tests.web.conftest import Browser, RunningApp
from tests.web.flows import start_launch


def _captured_callback(browser: Browser, app: RunningApp, auth_server: Any, patient_id: str) -> str:
    """Start a launch in `browser` and return the callback URL the EHR sends it to (not yet opened)."""
    authorize_url = start_launch(browser, app, auth_server, patient_id)
    callback: str = browser.get(authorize_url, allow_redirects=False).headers["Location"]
    assert callback.startswith(f"{app.url}/callback?"), callback
    return callback


def _launch_count(app: RunningApp) -> int:
    with app.services.database.session() as db:
        return db.query(Launch).count()


def test_a_captured_callback_opened_in_a_fresh_client_logs_nobody_in(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    callback = _captured_callback(browser, app_server, auth_server, patients[0])
    launches_before = _launch_count(app_server)
    with Browser() as attacker:
        refused = attacker.follow(callback)
        assert refused.status_code == 403
        assert 'data-error-code="launch-other-browser"' in refused.text
        assert "started in another browser" in refused.text
        assert patients[0] not in refused.text
        assert "/s/" not in " ".join(attacker.hops)
    assert _launch_count(app_server) == launches_before
    # The legitimate browser still completes its sign-in: the refused attempt did not use up the state.
    page = browser.follow(callback)
    assert page.status_code == 200, page.text
    assert "/s/" in page.url
    assert _launch_count(app_server) == launches_before + 1
    with app_server.services.database.session() as db:
        assert any(e.detail == "callback from another browser" for e in events(db, event="launch.refused"))


def test_the_launch_cookie_is_short_lived_partitioned_and_scoped_to_the_callback(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    ehr_button = {"patient": patients[1], "client_id": app_server.client_id}
    start = f"{auth_server.base_url}/ehr/launch?" + urlencode(ehr_button)
    app_launch = browser.get(start, allow_redirects=False).headers["Location"].replace("/launch.html?", "/launch?", 1)
    response = browser.get(app_launch, allow_redirects=False)
    assert response.status_code == 302
    set_cookies = [value for key, value in response.raw.headers.items() if key.lower() == "set-cookie"]
    launch_cookie = next(value for value in set_cookies if value.startswith("spine_auth_launch_"))
    attributes = {part.strip().split("=", 1)[0].lower(): part for part in launch_cookie.split(";")}
    assert {"secure", "httponly", "partitioned", "samesite", "max-age", "path"} <= set(attributes)
    assert attributes["samesite"].strip() == "SameSite=None"
    assert attributes["path"].strip() == "Path=/callback"
    assert int(attributes["max-age"].split("=")[1]) == app_server.app.config["LAUNCH_STATE_TTL_SECONDS"]


def test_a_fresh_chromium_context_cannot_use_another_browsers_callback(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser, chromium: PlaywrightBrowser
) -> None:
    callback = _captured_callback(browser, app_server, auth_server, patients[1])
    context = chromium.new_context()
    try:
        page = context.new_page()
        response = page.goto(callback)
        assert response is not None and response.status == 403
        assert "started in another browser" in page.content()
        assert not [c for c in context.cookies() if c["name"] == "spine_auth_session"]
    finally:
        context.close()
    assert browser.follow(callback).status_code == 200
