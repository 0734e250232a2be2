"""Issue 14 item 7: a token response without the id_token that `openid fhirUser` asked for is refused, unless the
EHR's registration says it never issues one (quirk `no_id_token`); then the launch goes on without a user
identity and the page says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_app.store.audit import events
from smart_app.store.launches import Launch
from tests.web.conftest import Browser, RunningApp, smart_app
from tests.web.flows import ehr_launch, load_summary


@pytest.fixture
def app_for_ehr_without_id_tokens(fhir_server: Any, auth_server: Any, tmp_path: Path) -> Iterator[RunningApp]:
    running = smart_app("public", fhir_server, auth_server, tmp_path, "spine-auth-no-id-token", quirks=("no_id_token",))
    try:
        yield running
    finally:
        running.stop()


def _launches(app: RunningApp) -> int:
    with app.services.database.session() as db:
        return db.query(Launch).count()


def test_a_token_response_without_id_token_is_refused(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(omit_id_token=True)
    before = _launches(app_server)
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 401
    assert 'data-error-code="id-token-missing"' in page.text
    assert "did not say who you are" in page.text
    assert "/s/" not in page.url
    assert _launches(app_server) == before
    with app_server.services.database.session() as db:
        assert any("id_token missing" in (e.detail or "") for e in events(db, event="launch.failed"))


def test_a_registration_that_says_no_id_token_continues_without_a_user_and_says_so(
    app_for_ehr_without_id_tokens: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(omit_id_token=True)
    page = ehr_launch(browser, app_for_ehr_without_id_tokens, auth_server, patients[0])
    assert page.status_code == 200, page.text
    assert "The EHR did not say who you are" in page.text
    assert "data-clinician" not in page.text  # no named user in the header
    assert "data-summary-clinician" not in load_summary(browser, page).text
    launch_id = app_for_ehr_without_id_tokens.launch_id_of(page.url)
    with app_for_ehr_without_id_tokens.services.database.session() as db:
        launch = db.get(Launch, launch_id)
        assert launch is not None and launch.fhir_user is None
        assert events(db, event="launch.no_identity")
    # The same EHR sending an id_token after all: it is verified and used.
    auth_server.set_switches(omit_id_token=False)
    with Browser() as second_browser:
        second = ehr_launch(second_browser, app_for_ehr_without_id_tokens, auth_server, patients[1])
        assert second.status_code == 200, second.text
        summary = load_summary(second_browser, second).text
    assert "data-summary-clinician" in summary  # the clinician, by name, for the header
    assert "did not say who you are" not in second.text + summary
