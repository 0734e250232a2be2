"""Helpers for the authorization server tests: a hand-driven SMART client (redirects followed by hand), client
keys and assertions, a loopback JWKS server, and patients created on the real FHIR server. No tests here."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from smart_app.sandbox.auth import AuthServerHandle, ClientRegistration

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
APP_BASE = "http://127.0.0.1:9/app"  # nothing listens there: redirects are read, never followed
REDIRECT_URI = f"{APP_BASE}/callback"
LAUNCH_URI = f"{APP_BASE}/launch"
TIMEOUT = 10


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def location_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, f"expected a redirect, got {response.status_code}: {response.text[:300]}"
    return query_of(response.headers["Location"])


def create_patient(
    fhir_base: str, family: str = "Testpatient", given: str = "Ada", birth_date: str = "1961-04-12"
) -> str:
    patient = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": "female",
        "birthDate": birth_date,
    }
    response = requests.post(
        f"{fhir_base}/Patient",
        json=patient,
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@dataclass
class ClientKey:
    key: RSAKey | ECKey
    alg: str

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}


def rsa_client_key() -> ClientKey:
    return ClientKey(RSAKey.generate_key(2048, auto_kid=True), "RS384")


def ec_client_key() -> ClientKey:
    return ClientKey(ECKey.generate_key("P-384", auto_kid=True), "ES384")


def client_assertion(
    key: ClientKey,
    client_id: str,
    token_url: str,
    *,
    exp_in: int = 240,
    jti: str | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + exp_in, "jti": jti or uuid.uuid4().hex}
    headers = header if header is not None else {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(headers, claims, key.key, algorithms=[headers["alg"]])


class JwksServer:
    """A real loopback HTTP server publishing a client's JWKS (what `jwks_uri` points to)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=60")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class SmartTestApp:
    """One registered app and the requests a SMART app makes, driven by hand."""

    server: AuthServerHandle
    registration: ClientRegistration
    key: ClientKey | None = None
    verifier: str = ""
    last_state: str = ""
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def client_id(self) -> str:
        return self.registration.client_id

    @property
    def token_url(self) -> str:
        return f"{self.server.base_url}/token"

    def ehr_launch(self, patient_id: str, **extra: str) -> dict[str, str]:
        """Click "Launch" in the sandbox EHR: returns the query the app's launch URL receives."""
        response = requests.get(
            f"{self.server.base_url}/ehr/launch",
            params={"patient": patient_id, "client_id": self.client_id, **extra},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        location = response.headers.get("Location", "")
        assert location.startswith(LAUNCH_URI), f"{response.status_code}: {response.text[:300]}"
        return query_of(location)

    def authorize_params(self, scope: str, *, launch: str | None = None, **overrides: str | None) -> dict[str, str]:
        self.verifier, challenge = pkce_pair()
        self.last_state = secrets.token_urlsafe(24)
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": self.last_state,
            "aud": self.server.fhir_base,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": self.nonce,
            "launch": launch,
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, params: dict[str, str], *, method: str = "GET") -> requests.Response:
        url = f"{self.server.base_url}/authorize"
        if method == "POST":
            return requests.post(url, data=params, allow_redirects=False, timeout=TIMEOUT)
        return requests.get(url, params=params, allow_redirects=False, timeout=TIMEOUT)

    def authorize_code(self, scope: str, *, launch: str | None = None, method: str = "GET") -> str:
        params = location_params(self.authorize(self.authorize_params(scope, launch=launch), method=method))
        assert params.get("state") == self.last_state
        assert "code" in params, params
        return params["code"]

    def token_request(self, form: dict[str, str], *, assertion: str | None = None) -> requests.Response:
        data = dict(form)
        auth: tuple[str, str] | None = None
        method = self.registration.auth_method
        if method == "none":
            data["client_id"] = self.client_id
        elif method == "client_secret_basic":
            auth = (self.client_id, str(self.registration.client_secret))
        else:
            assert self.key is not None
            data["client_assertion_type"] = ASSERTION_TYPE
            data["client_assertion"] = assertion or client_assertion(self.key, self.client_id, self.token_url)
        return requests.post(self.token_url, data=data, auth=auth, timeout=TIMEOUT)

    def exchange(self, code: str, *, verifier: str | None = None, assertion: str | None = None) -> requests.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        chosen = self.verifier if verifier is None else verifier
        if chosen:
            form["code_verifier"] = chosen
        return self.token_request(form, assertion=assertion)

    def refresh(self, refresh_token: str, scope: str | None = None) -> requests.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            form["scope"] = scope
        return self.token_request(form)

    def launch_and_token(self, patient_id: str, scope: str) -> dict[str, Any]:
        """The whole EHR launch: EHR button, authorize with `launch`, code exchange. Returns the token JSON."""
        launch = self.ehr_launch(patient_id)
        assert launch["iss"] == self.server.fhir_base
        code = self.authorize_code(f"launch {scope}", launch=launch["launch"])
        response = self.exchange(code)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def register_app(
    server: AuthServerHandle,
    auth_method: str = "none",
    *,
    key: ClientKey | None = None,
    jwks_uri: str | None = None,
) -> SmartTestApp:
    client_id = f"test-app-{uuid.uuid4().hex[:10]}"
    registration = ClientRegistration(
        client_id=client_id,
        redirect_uris=[REDIRECT_URI],
        launch_uri=LAUNCH_URI,
        auth_method=auth_method,  # type: ignore[arg-type]
        client_secret=secrets.token_urlsafe(24) if auth_method == "client_secret_basic" else None,
        jwks_uri=jwks_uri,
        jwks=key.public_jwks() if key is not None and jwks_uri is None else None,
    )
    server.register_client(registration)
    return SmartTestApp(server, registration, key)


def introspect(server: AuthServerHandle, token: str, auth: tuple[str, str] | None = None) -> requests.Response:
    from tests.conftest import RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET

    return requests.post(
        f"{server.base_url}/introspect",
        data={"token": token},
        auth=auth or (RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET),
        timeout=TIMEOUT,
    )


def server_keys(server: AuthServerHandle) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{server.base_url}/jwks", timeout=TIMEOUT).json())
