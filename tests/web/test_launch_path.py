"""The launch's hot path (issue 13's load goal) keeps its guarantees: one callback wins a state even when two
arrive at once, every launch and every read is audited, flows run twice and on a second patient, and the cheaper
helpers (rate-limit storage upkeep, environment lookups for outbound HTTP) count and route exactly as before."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from smart_app.fhir.http_session import EnvironmentOnceSession, forget_environment
from smart_app.store.audit import events
from smart_app.web.rate_limits import SweepingMemoryStorage
from tests.web.conftest import Browser, RunningApp
from tests.web.flows import as_json, ehr_launch, start_launch


def _callback_url(browser: Browser, app: RunningApp, authorize_url: str) -> str:
    """Follow the authorize step until the EHR sends the browser back to our callback (not yet visited)."""
    url = authorize_url
    for _ in range(10):
        response = browser.get(url, allow_redirects=False)
        assert response.status_code in (302, 303), response.text
        url = urljoin(response.url, response.headers["Location"])
        if url.startswith(f"{app.url}/callback"):
            return url
    raise AssertionError("the authorize step never came back to the app")


def test_two_callbacks_at_once_log_in_once(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    callback = _callback_url(browser, app_server, start_launch(browser, app_server, auth_server, patients[0]))
    with app_server.services.database.session() as db:
        completed_before = len(events(db, event="launch.completed"))
    barrier = threading.Barrier(2)

    def arrive() -> requests.Response:
        barrier.wait()
        return browser.get(callback, allow_redirects=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: arrive(), range(2)))
    assert sorted(answer.status_code for answer in answers) == [302, 400]
    refused = next(answer for answer in answers if answer.status_code == 400)
    assert "already completed" in refused.text
    landed = next(answer for answer in answers if answer.status_code == 302)
    assert "/s/" in landed.headers["Location"]
    with app_server.services.database.session() as db:
        assert len(events(db, event="launch.completed")) == completed_before + 1


def test_every_launch_and_read_is_audited_twice_and_on_a_second_patient(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    with app_server.services.database.session() as db:
        started_before = len(events(db, event="launch.started"))
    launch_ids = []
    for patient in [patients[0], patients[0], patients[1]]:
        page = ehr_launch(browser, app_server, auth_server, patient)
        assert page.status_code == 200, page.text
        assert as_json(browser, page.url).json()["patient"] == patient
        launch_ids.append(app_server.launch_id_of(page.url))
    assert len(set(launch_ids)) == 3
    with app_server.services.database.session() as db:
        assert len(events(db, event="launch.started")) == started_before + 3
        for launch_id, patient in zip(launch_ids, [patients[0], patients[0], patients[1]], strict=True):
            audited = events(db, launch_id=launch_id)
            assert [e.event for e in audited] == ["launch.completed", "data.read", "data.read"]
            assert {e.subject for e in audited if e.event == "data.read"} == {f"Patient/{patient}"}
            assert all(e.actor and e.actor.endswith("/Practitioner/" + e.actor.rsplit("/", 1)[1]) for e in audited)
    # one browser session throughout: the first launch created it, the later ones found it
    assert len([c for c in browser.cookies if c.name == "spine_auth_session"]) == 1


def test_a_launch_page_of_another_session_is_refused(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    page = ehr_launch(browser, app_server, auth_server, patients[1])
    with Browser() as stranger:
        assert stranger.get(page.url, allow_redirects=False).status_code == 403
        stranger.cookies.set("spine_auth_session", "x" * 43, domain="127.0.0.1")
        assert stranger.get(page.url, allow_redirects=False).status_code == 403
    assert browser.get(page.url, allow_redirects=False).status_code == 200


def test_rate_limit_storage_counts_like_limits_and_sweeps_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    real_timer = threading.Timer

    def counting_timer(*args: Any, **kwargs: Any) -> threading.Timer:
        timer = real_timer(*args, **kwargs)
        started.append(timer)
        return timer

    monkeypatch.setattr(threading, "Timer", counting_timer)
    storage = storage_from_string("spine-auth-memory://")
    assert isinstance(storage, SweepingMemoryStorage)
    limiter = MovingWindowRateLimiter(storage)
    three = parse("3/minute")
    assert [limiter.hit(three, "session", "a") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.hit(three, "session", "b")  # keys count apart
    for _ in range(200):
        limiter.hit(parse("1000/minute"), "address", "c")
    assert len(started) <= 1  # only the constructor's timer: limits' own storage starts one after most hits
    sweepers = [thread for thread in threading.enumerate() if thread.name == "rate-limit-sweeper"]
    assert sweepers and all(thread.daemon for thread in sweepers)


def test_outbound_http_merges_the_environment_as_requests_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    forget_environment()
    ours, theirs = EnvironmentOnceSession(), requests.Session()
    for url in ("https://ehr.example/token", "https://internal.example/fhir/Patient/1", "http://127.0.0.1:1/x"):
        for _ in range(2):  # the second call is served from what the first found
            assert ours.merge_environment_settings(url, {}, None, None, None) == theirs.merge_environment_settings(
                url, {}, None, None, None
            )
    routed = ours.merge_environment_settings("https://ehr.example/t", {}, None, None, None)
    assert routed["proxies"]["https"] == "http://proxy.invalid:3128"
    assert routed["verify"] == "/etc/ssl/certs/ca-certificates.crt"
    assert "https" not in ours.merge_environment_settings("https://internal.example/t", {}, None, None, None)["proxies"]
    monkeypatch.undo()
    forget_environment()
    assert ours.merge_environment_settings("https://ehr.example/t", {}, None, None, None) == (
        requests.Session().merge_environment_settings("https://ehr.example/t", {}, None, None, None)
    )
