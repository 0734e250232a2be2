"""EHR launch and standalone launch through the sandbox, for a public, a client_secret_basic and a private_key_jwt
client: discovery, PKCE, authorize, token exchange, id_token, server-side tokens, the first page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from smart_app.sandbox.constants import SANDBOX_PRACTITIONER_ID
from smart_app.store.audit import events
from smart_app.store.launches import get_launch
from smart_app.store.tokens import load_tokens
from tests.web.conftest import Browser, RunningApp, hidden_inputs, sent_to, smart_app
from tests.web.flows import as_json, ehr_launch, load_summary, standalone_launch


def test_ehr_launch_reaches_the_patient_page(
    smart_app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    patients: list[str],
    browser: Browser,
    outbound: list[Any],
) -> None:
    fhir_server.configure(require_auth=True)  # the FHIR server introspects every token: it must be a real one
    try:
        page = ehr_launch(browser, smart_app_server, auth_server, patients[0])
    finally:
        fhir_server.configure(require_auth=False)
    assert page.status_code == 200, page.text
    assert page.url.startswith(f"{smart_app_server.url}/s/")
    fragment = load_summary(browser, page)
    assert 'data-type="Condition"' in fragment.text
    assert "Open the checklist" in fragment.text

    # The authorize request carried PKCE S256, aud = iss, the launch and a long state.
    authorize = next(hop for hop in browser.hops if "/authorize" in hop)
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["aud"] == fhir_server.base_url
    assert query["launch"]
    assert len(base64.urlsafe_b64decode(query["state"] + "==")) >= 16
    assert query["scope"].split()[0] == "launch"
    assert "patient/Condition.rs" in query["scope"].split()  # v2 syntax: the sandbox advertises permission-v2

    # The token request authenticated the client the registered way.
    token_requests = sent_to(outbound, auth_server.base_url + "/token")
    assert len(token_requests) == 1
    body = parse_qs(str(token_requests[0].body))
    assert body["code_verifier"][0]
    kind = smart_app_server.client_id or ""
    if kind.endswith("basic"):
        assert token_requests[0].headers["Authorization"].startswith("Basic ")
    elif kind.endswith("jwt"):
        assert body["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
        header = json.loads(base64.urlsafe_b64decode(body["client_assertion"][0].split(".")[0] + "=="))
        assert header["alg"] == "ES384" and header["kid"]
    else:
        assert body["client_id"] == [smart_app_server.client_id]
        assert "Authorization" not in token_requests[0].headers

    # Context, identity and tokens are kept server-side; the browser only ever holds the session cookie.
    launch_id = smart_app_server.launch_id_of(page.url)
    services = smart_app_server.services
    with services.database.session() as db:
        launch = get_launch(db, launch_id)
        assert launch is not None
        assert launch.patient_id == patients[0]
        assert launch.fhir_user is not None and launch.fhir_user.endswith(f"Practitioner/{SANDBOX_PRACTITIONER_ID}")
        tokens = load_tokens(db, services.cipher, launch_id)
        assert tokens is not None and tokens.refresh_token
        stored = db.execute(text("select access_token_enc from launch_tokens where launch_id = :l"), {"l": launch_id})
        assert tokens.access_token not in stored.scalar_one()
        # the patient page read and the summary read are audited (issue 11)
        audited = [(e.event, e.detail) for e in events(db, launch_id=launch_id)]
        assert audited == [
            ("launch.completed", audited[0][1]),
            ("data.read", "GET patient.summary"),
            ("data.read", "GET patient.summary_fragment"),
        ]
    for hop in browser.hops:
        assert tokens.access_token not in hop
    assert tokens.access_token not in page.text and tokens.access_token not in fragment.text
    assert [c.name for c in browser.cookies] == ["spine_auth_session"]


def test_session_cookie_is_opaque_secure_httponly_samesite_none_partitioned(
    app_server: RunningApp, fhir_server: Any, browser: Browser
) -> None:
    response = browser.get(f"{app_server.url}/launch?iss={fhir_server.base_url}", allow_redirects=False)
    assert response.status_code == 302
    cookie_header = response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie_header
    value = browser.cookies["spine_auth_session"]
    assert len(value) >= 43 and "." not in value  # a random token, not a signed data cookie


def test_standalone_launch_with_the_sandbox_patient_picker(
    smart_app_server: RunningApp, auth_server: Any, fhir_server: Any, patients: list[str], browser: Browser
) -> None:
    page = standalone_launch(browser, smart_app_server, fhir_server.base_url, patients[1])
    assert page.status_code == 200, page.text
    authorize = next(hop for hop in browser.hops if "/authorize" in hop)
    query = parse_qs(urlsplit(authorize).query)
    assert "launch" not in query
    assert "launch/patient" in query["scope"][0].split()
    summary = as_json(browser, page.url).json()
    assert summary["patient"] == patients[1]
    assert summary["counts"]["Patient"] == 1
    assert summary["writeMode"] == "write"
    assert "patient/ServiceRequest.crus" in summary["scopesGranted"]  # read (our drafts) and write


def test_authorize_by_post_and_v1_scopes_when_the_ehr_quirks_say_so(
    auth_server: Any, fhir_server: Any, patients: list[str], browser: Browser, tmp_path: Path, outbound: list[Any]
) -> None:
    app = smart_app(
        "private_key_jwt",
        fhir_server,
        auth_server,
        tmp_path,
        "spine-auth-quirks",
        quirks=("authorize_post", "v1_scopes_only"),
    )
    try:
        form_page = ehr_launch(browser, app, auth_server, patients[0])
        assert form_page.status_code == 200
        assert "data-autosubmit" in form_page.text
        csp = form_page.headers["Content-Security-Policy"]
        assert f"form-action 'self' {auth_server.base_url}" in csp
        fields = hidden_inputs(form_page.text)
        assert fields["code_challenge_method"] == "S256" and fields["launch"] and fields["state"]
        assert "patient/Condition.read" in fields["scope"].split()
        assert "patient/ServiceRequest.write" in fields["scope"].split()
        action = re.search(r'<form method="post" action="([^"]+)"', form_page.text)
        assert action and action.group(1) == f"{auth_server.base_url}/authorize"
        page = browser.post_form(action.group(1), fields)
        assert page.status_code == 200, page.text
        summary = as_json(browser, page.url).json()
        assert summary["writeMode"] == "write"  # v1 .write grants create and update
        assert summary["counts"]["Condition"] > 0
        token_request = sent_to(outbound, auth_server.base_url + "/token")[0]
        assertion = parse_qs(str(token_request.body))["client_assertion"][0]
        assert json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))["alg"] == "RS384"
    finally:
        app.stop()
