"""The app with the sandbox payer configured (PAYERS) and registered there with our JWKS, in front of the sandbox
EHR; clinician and staff launches go through the sandbox authorization server for real."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from smart_app.cli.payer import payer_settings
from smart_app.sandbox.payer import PayerHandle, start_payer_server
from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import Browser, RunningApp, browser, chromium, seeded_on, smart_app

__all__ = ["browser", "chromium"]  # the web tests' fixtures, shared here

CLIENT_ID = "spine-auth-worklist"
# Ready patients no other test writes orders for: a clinician saves a draft for each.
FIRST = "lumbar-mbb-confirmatory-bilateral-ready"
SECOND = "pars-chronic-defect-edema-ready"
# The Chromium walk's patients (their own, so its requests start as drafts).
BROWSER_APPROVED = "lumbar-rfa-repeat-sustained-relief-ready"
BROWSER_DENIED = "pars-chronic-defect-no-edema-ready"
# The clinician builds the packet on the checklist page; it is kept with the worklist request.
CLINICIAN_PACKET = "cervical-mbb-left-two-level-ready"


@pytest.fixture(scope="session")
def worklist_payer() -> Iterator[PayerHandle]:
    handle = start_payer_server()  # validates with HAPI's validator (SPINE_AUTH_PAYER_IGS, set by tests/conftest.py)
    try:
        assert handle.state.validator is not None, "the worklist tests' payer must validate what it receives"
        handle.state.validator.wait_ready(timeout=300)  # loaded once, before any page waits on a submission
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def worklist_app(
    fhir_server: Any, auth_server: Any, worklist_payer: PayerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    running = smart_app(
        "public",
        fhir_server,
        auth_server,
        tmp_path_factory.mktemp("worklist"),
        CLIENT_ID,
        PAYERS=payer_settings(worklist_payer, client_id=CLIENT_ID),
    )
    worklist_payer.register_client(CLIENT_ID, jwks_uri=f"{running.url}/.well-known/jwks.json")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def payer(worklist_payer: PayerHandle) -> Iterator[PayerHandle]:
    worklist_payer.reset()
    try:
        yield worklist_payer
    finally:
        worklist_payer.reset()


@pytest.fixture
def ready_patients(fhir_server: Any) -> dict[str, SeedPatient]:
    return seeded_on(fhir_server, (FIRST, SECOND, BROWSER_APPROVED, BROWSER_DENIED, CLINICIAN_PACKET))


def staff_launch(browser: Browser, app: RunningApp, auth_server: Any) -> str:
    """A provider launch from the sandbox EHR without a patient; returns the launch id (the worklist opened)."""
    start = f"{auth_server.base_url}/ehr/launch?" + urlencode({"client_id": app.client_id})
    response = browser.get(start, allow_redirects=False)
    assert response.status_code == 302, response.text
    page = browser.follow(response.headers["Location"].replace("/launch.html?", "/launch?", 1))
    assert page.status_code == 200, page.text
    assert page.url.endswith("/worklist"), page.url
    return app.launch_id_of(page.url)


def request_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-request="([0-9a-f-]+)"', html)
