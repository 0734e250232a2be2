"""Two patients in two tabs of the same browser: each launch keeps its own patient, tokens and URL space."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.web.conftest import Browser, RunningApp
from tests.web.flows import as_json, start_launch


def test_two_launches_in_one_browser_never_mix(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    first, second = patients
    # Both tabs reach the authorize step before either comes back (interleaved launches).
    authorize_first = start_launch(browser, app_server, auth_server, first)
    authorize_second = start_launch(browser, app_server, auth_server, second)
    page_second = browser.follow(authorize_second)
    page_first = browser.follow(authorize_first)
    assert page_first.status_code == page_second.status_code == 200
    assert page_first.url != page_second.url
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda url: as_json(browser, url).json(), [page_first.url, page_second.url] * 2))
    assert [a["patient"] for a in answers] == [first, second, first, second]
    with app_server.services.database.session() as db:
        from smart_app.store.tokens import load_tokens

        tokens = {
            load_tokens(db, app_server.services.cipher, app_server.launch_id_of(url)).access_token  # type: ignore[union-attr]
            for url in (page_first.url, page_second.url)
        }
    assert len(tokens) == 2
    assert len({c.value for c in browser.cookies if c.name == "spine_auth_session"}) == 1  # one browser session
