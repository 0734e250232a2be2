"""Tokens are refreshed before they expire, one refresh at a time per launch, with the refresh token rotated;
a revoked refresh token sends the user back to the EHR, never to a stack trace."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urljoin

from smart_app.store.audit import events
from smart_app.store.tokens import load_tokens
from smart_app.workflow.tokens import RelaunchRequired
from tests.web.conftest import Browser, RunningApp, sent_to
from tests.web.flows import as_json, ehr_launch, summary_src


def _tokens(app: RunningApp, launch_id: str) -> Any:
    with app.services.database.session() as db:
        return load_tokens(db, app.services.cipher, launch_id)


def test_access_token_is_refreshed_before_it_expires_and_the_refresh_token_rotates(
    app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    patients: list[str],
    browser: Browser,
    outbound: list[Any],
) -> None:
    auth_server.set_switches(access_token_lifetime=3600)
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    launch_id = app_server.launch_id_of(page.url)
    first = _tokens(app_server, launch_id)
    assert first.refresh_count == 0
    # 59 minutes later the token is inside the 60 s window: the next FHIR call refreshes it first.
    app_server.clock_offset[0] = 3600 - 30
    fhir_server.configure(require_auth=True)
    already_sent = len(outbound)
    try:
        summary = as_json(browser, page.url)
    finally:
        fhir_server.configure(require_auth=False)
        app_server.clock_offset[0] = 0
    assert summary.status_code == 200, summary.text
    second = _tokens(app_server, launch_id)
    assert second.refresh_count == 1
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token  # rotated: the old one is gone from the store
    refreshes = [r for r in sent_to(outbound, auth_server.base_url + "/token") if "refresh_token" in str(r.body)]
    assert len(refreshes) == 1
    # The FHIR server saw only the new token.
    fhir_calls = sent_to(outbound[already_sent:], fhir_server.base_url)
    assert fhir_calls and all(r.headers["Authorization"] == f"Bearer {second.access_token}" for r in fhir_calls)


def test_concurrent_callers_share_one_refresh(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser, outbound: list[Any]
) -> None:
    auth_server.set_switches(access_token_lifetime=30)
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    launch_id = app_server.launch_id_of(page.url)
    before = _tokens(app_server, launch_id).refresh_count
    auth_server.set_switches(access_token_lifetime=3600)
    app_server.clock_offset[0] = 20  # past half of the 30 s token's lifetime: due for a refresh
    results: list[str] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(app_server.services.tokens.access_token(launch_id))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app_server.clock_offset[0] = 0
    after = _tokens(app_server, launch_id)
    assert after.refresh_count == before + 1
    assert set(results) == {after.access_token}
    with app_server.services.database.session() as db:
        assert len(events(db, launch_id=launch_id, event="token.refreshed")) == before + 1


def test_revoked_refresh_token_asks_for_a_relaunch(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    launch_id = app_server.launch_id_of(page.url)
    auth_server.set_switches(reject_refresh=True)
    app_server.clock_offset[0] = 3600  # the access token has expired
    try:
        again = browser.get(urljoin(page.url, summary_src(page.text)))  # the summary is what needs the token
        api = as_json(browser, page.url)
    finally:
        app_server.clock_offset[0] = 0
    assert again.status_code == 401
    assert "Launch again from your EHR" in again.text
    assert "Traceback" not in again.text
    outcome = api.json()
    assert api.status_code == 401
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "login"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "relaunch-required"
    tokens = _tokens(app_server, launch_id)
    assert tokens.refresh_token is None  # a refused refresh token is never sent again
    with app_server.services.database.session() as db:
        assert [e.event for e in events(db, launch_id=launch_id, event="token.refresh_refused")]


def test_no_refresh_token_means_relaunch_once_expired(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    launch_id = app_server.launch_id_of(page.url)
    from smart_app.store.tokens import forget_refresh_token

    with app_server.services.database.session() as db:
        forget_refresh_token(db, launch_id)
    app_server.clock_offset[0] = 7200
    try:
        try:
            app_server.services.tokens.access_token(launch_id)
        except RelaunchRequired as error:
            assert "no refresh" in error.reason
        else:
            raise AssertionError("an expired token without refresh must ask for a relaunch")
    finally:
        app_server.clock_offset[0] = 0
