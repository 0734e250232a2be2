"""Security headers, our JWKS, launch.html, and what never reaches a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet

from smart_app.fhir.client_assertion import build_client_assertion
from tests.web.conftest import Browser, RunningApp
from tests.web.flows import ehr_launch

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_phi_page_headers(app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser) -> None:
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    headers = page.headers
    assert headers["Cache-Control"] == "no-store"
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["frame-ancestors"] == f"'self' {auth_server.base_url}"  # the registered EHR origin only
    assert csp["script-src"] == "'self'"
    assert csp["form-action"] == "'self'"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_jwks_is_public_cacheable_and_verifies_our_assertions(app_server: RunningApp, browser: Browser) -> None:
    response = browser.get(f"{app_server.url}/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    published = response.json()
    assert {key["alg"] for key in published["keys"]} == {"RS384", "ES384"}
    assert all("d" not in key for key in published["keys"])
    keys = KeySet.import_key_set(published)
    for signing_key in app_server.services.signing_keys:
        assertion = build_client_assertion(signing_key, client_id="c", token_endpoint="https://t", now=1)
        from joserfc import jwt

        assert jwt.decode(assertion, keys, algorithms=[signing_key.alg]).claims["iss"] == "c"


def test_launch_html_forwards_only_iss_and_launch_to_our_own_launch(app_server: RunningApp, browser: Browser) -> None:
    page = browser.get(f"{app_server.url}/launch.html?iss=x&launch=y")
    assert page.status_code == 200
    assert '<script src="/static/launch.js"></script>' in page.text
    script = browser.get(f"{app_server.url}/static/launch.js").text
    assert 'name === "iss" || name === "launch"' in script
    assert 'window.location.replace("/launch"' in script
    assert (PROJECT_ROOT / "launch.html").read_text() == page.text


def test_unknown_route_is_a_readable_404_and_json_for_api_callers(app_server: RunningApp, browser: Browser) -> None:
    page = browser.get(f"{app_server.url}/nowhere")
    assert page.status_code == 404
    assert 'data-error-code="http-404"' in page.text
    api = browser.get(f"{app_server.url}/nowhere", headers={"Accept": "application/fhir+json"})
    assert api.json()["issue"][0]["code"] == "not-found"
