"""Launches driven through the sandbox the way a browser does it: real redirects, real token exchange."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urljoin

import requests

from tests.web.conftest import Browser, RunningApp, hidden_inputs


def _app_launch_url(browser: Browser, app: RunningApp, auth_server: Any, patient_id: str) -> str:
    """Click "Launch" in the sandbox EHR for `patient_id`; returns the app's `/launch?iss=…&launch=…` URL."""
    start = f"{auth_server.base_url}/ehr/launch?" + urlencode({"patient": patient_id, "client_id": app.client_id})
    response = browser.get(start, allow_redirects=False)
    assert response.status_code == 302, response.text
    location: str = response.headers["Location"]
    assert location.startswith(f"{app.url}/launch.html?"), location
    # launch.html (static/launch.js) forwards iss and launch to /launch; a browser runs that script.
    return location.replace("/launch.html?", "/launch?", 1)


def ehr_launch(
    browser: Browser, app: RunningApp, auth_server: Any, patient_id: str, **kwargs: Any
) -> requests.Response:
    """Click "Launch" in the sandbox EHR for `patient_id` and follow every hop to the app's first page."""
    return browser.follow(_app_launch_url(browser, app, auth_server, patient_id), **kwargs)


def start_launch(browser: Browser, app: RunningApp, auth_server: Any, patient_id: str) -> str:
    """An EHR launch up to the authorize redirect; returns the authorize URL (not yet visited)."""
    response = browser.get(_app_launch_url(browser, app, auth_server, patient_id), allow_redirects=False)
    assert response.status_code == 302, response.text
    authorize_url: str = response.headers["Location"]
    return authorize_url


def standalone_launch(browser: Browser, app: RunningApp, iss: str, patient_id: str, **kwargs: Any) -> requests.Response:
    """Start from the app (no launch parameter), pick the patient in the sandbox's picker, follow to the app."""
    picker = browser.follow(f"{app.url}/launch?" + urlencode({"iss": iss}), **kwargs)
    assert picker.status_code == 200, picker.text
    assert "Choose a patient" in picker.text
    pending = hidden_inputs(picker.text)["pending"]
    action = re.search(r'<form method="post" action="([^"]+)"', picker.text)
    assert action
    return browser.post_form(
        urljoin(picker.url, action.group(1)), {"pending": pending, "patient": patient_id}, **kwargs
    )


def as_json(browser: Browser, url: str) -> requests.Response:
    return browser.get(url, headers={"Accept": "application/json"}, allow_redirects=False)


def summary_src(page_html: str) -> str:
    """The one summary-fragment URL of a patient page (the page loads its summary from there)."""
    sources = re.findall(r'data-summary-src="([^"]+)"', page_html)
    assert len(sources) == 1, f"expected one data-summary-src, found {len(sources)}"
    return sources[0]


def load_summary(browser: Browser, page: requests.Response) -> requests.Response:
    """GET the summary fragment a patient page names (same cookies), as its summary.js does."""
    response = browser.get(urljoin(page.url, summary_src(page.text)), headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert "data-summary-loaded" in response.text
    return response
