"""The app served for real (werkzeug in a thread, on a free port) in front of the sandbox EHR.

One app per client type (`public`, `client_secret_basic`, `private_key_jwt`), each registered at the sandbox
authorization server with its redirect URI, launch URL and (for private_key_jwt) our JWKS URL, plus one app whose
only EHR is the sandbox FHIR server as an open server. A `Browser` is a `requests.Session` that keeps the app's
Secure cookie on loopback http (as Chromium does for localhost) and follows redirects one at a time. `patients`
and `seeded` put seed patients on the FHIR server; `chromium` is Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask import Flask
from requests.cookies import MockRequest

from smart_app import create_app
from smart_app.cli.sandbox import AUTH_METHODS, register_app
from smart_app.fhir.signing_keys import generate_signing_key
from smart_app.sandbox.seed.catalog import SeedPatient, seed_patients
from smart_app.sandbox.seed.loader import seed_server
from smart_app.web.server import make_app_server
from smart_app.web.services import AppServices

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PlaywrightBrowser

SEED_NAMES = ("lumbar-mbb-first-left-ready", "pars-chronic-defect-edema-ready")
# The checklist, orders and browser-checklist tests' patients (fixture `seeded`).
READY = "lumbar-mbb-first-left-ready"
NOT_ELIGIBLE = "lumbar-mbb-disc-radiculopathy"
NEEDS_DOCUMENTATION = "lumbar-mbb-no-disability-scale"
ORDER_PATIENT = "lumbar-rfa-initial-right-ready"  # only the order tests write drafts for this patient
CHECKLIST_PATIENTS = (READY, NOT_ELIGIBLE, NEEDS_DOCUMENTATION, ORDER_PATIENT)
CLIENT_SECRET = "sandbox-client-secret-for-tests"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LoopbackSecureCookiePolicy(DefaultCookiePolicy):
    """Send Secure cookies to 127.0.0.1/localhost over http, as browsers treat loopback as a secure context."""

    def return_ok_secure(self, cookie: Any, request: Any) -> bool:
        host = urlsplit(request.get_full_url()).hostname
        if host in ("127.0.0.1", "localhost"):
            return True
        return bool(super().return_ok_secure(cookie, request))


class Browser(requests.Session):
    """A cookie-keeping client that follows redirects itself, so every hop (and its cookies) is real."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(LoopbackSecureCookiePolicy())
        self.hops: list[str] = []

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        # requests merges cookies into a fresh jar with the default policy, which drops Secure cookies on http;
        # add them back from our jar, whose policy knows loopback.
        prepared = super().prepare_request(request)
        mock = MockRequest(prepared)
        self.cookies.add_cookie_header(mock)
        cookie = mock.get_new_headers().get("Cookie")
        if cookie:
            prepared.headers["Cookie"] = cookie
        return prepared

    def follow(self, url: str, *, max_hops: int = 10, **kwargs: Any) -> requests.Response:
        response = self.get(url, allow_redirects=False, **kwargs)
        for _ in range(max_hops):
            self.hops.append(response.url)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            response = self.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False, **kwargs)
        raise AssertionError(f"too many redirects: {self.hops[-5:]}")

    def post_form(self, url: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        response = self.post(url, data=data, allow_redirects=False, **kwargs)
        if response.status_code in (301, 302, 303):
            return self.follow(urljoin(response.url, response.headers["Location"]), **kwargs)
        return response


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@dataclass
class RunningApp:
    """An app served on loopback; `clock_offset` shifts the app's clock (seconds) for expiry tests."""

    app: Flask
    url: str
    client_id: str | None
    stop: Callable[[], None]
    clock_offset: list[float] = field(default_factory=lambda: [0.0])

    @property
    def services(self) -> AppServices:
        found: AppServices = self.app.extensions["spine_auth"]
        return found

    def launch_id_of(self, url: str) -> str:
        match = re.search(r"/s/([^/]+)/", url)
        assert match, f"not a launch URL: {url}"
        return match.group(1)


def serve_app(tmp_path: Path, ehrs: list[dict[str, Any]], client_id: str | None = None, **settings: Any) -> RunningApp:
    offset = [0.0]
    app = create_app(
        {
            "TESTING": False,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "EHRS": ehrs,
            "CLOCK": lambda: time.time() + offset[0],
            **settings,
        }
    )
    server = make_app_server(app, "127.0.0.1", 0)
    if not app.config.get("PUBLIC_URL"):  # the redirect URI is built only from it; the port is known now
        app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, name="app-under-test", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return RunningApp(
        app=app, url=f"http://127.0.0.1:{server.port}", client_id=client_id, stop=stop, clock_offset=offset
    )


def smart_app(
    kind: str,
    fhir_server: Any,
    auth_server: Any,
    tmp_path: Path,
    client_id: str,
    *,
    quirks: tuple[str, ...] = (),
    **settings: Any,
) -> RunningApp:
    """Serve the app with the sandbox as its one EHR and register it there as `client_id`."""
    entry: dict[str, Any] = {
        "name": "sandbox",
        "title": "Sandbox EHR",
        "iss": fhir_server.base_url,
        "client_id": client_id,
        "client_auth": kind,
        "ehr_origins": [auth_server.base_url],
        "quirks": list(quirks),
    }
    if kind == "client_secret_basic":
        entry["client_secret"] = CLIENT_SECRET
    running = serve_app(tmp_path, [entry], client_id, **settings)
    client_secret = CLIENT_SECRET if kind == "client_secret_basic" else None
    register_app(
        auth_server,
        running.url,
        client_id=client_id,
        client_auth=kind,
        client_secret=client_secret,
        name=f"spine-auth ({kind})",
    )
    return running


@pytest.fixture(scope="session", params=list(AUTH_METHODS))
def smart_app_server(
    request: pytest.FixtureRequest, fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The app registered at the sandbox with each client authentication in turn."""
    kind = request.param
    settings: dict[str, Any] = {}
    if kind == "private_key_jwt":  # sign with ES384 here (the authorize-POST test signs with RS384)
        keys = [generate_signing_key("ES384"), generate_signing_key("RS384")]
        settings["SIGNING_KEYS"] = [key.private_jwk() for key in keys]
    client_id = f"spine-auth-{kind.replace('_', '-')}"
    running = smart_app(kind, fhir_server, auth_server, tmp_path_factory.mktemp(kind), client_id, **settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def app_server(fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app as a public client of the sandbox (the common case for behaviour tests)."""
    running = smart_app("public", fhir_server, auth_server, tmp_path_factory.mktemp("behaviour"), "spine-auth")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def open_app_server(fhir_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app whose only EHR is the sandbox FHIR server as an open server (no OAuth)."""
    entry = {"name": "sandbox-open", "title": "Sandbox FHIR (open)", "iss": fhir_server.base_url, "open": True}
    running = serve_app(tmp_path_factory.mktemp("open"), [entry])
    try:
        yield running
    finally:
        running.stop()


def seeded_on(fhir_server: Any, names: Sequence[str]) -> dict[str, SeedPatient]:
    """The named seed patients by name, loaded on the FHIR server where missing (another test may have reset it)."""
    found = {patient.name: patient for patient in seed_patients(names)}
    missing = [
        name
        for name, patient in found.items()
        if requests.get(f"{fhir_server.base_url}/Patient/{patient.id}", timeout=10).status_code != 200
    ]
    if missing:
        seed_server(fhir_server.base_url, only=missing)
    return found


@pytest.fixture
def patients(fhir_server: Any) -> list[str]:
    """The ids of two seed patients on the FHIR server."""
    return [patient.id for patient in seeded_on(fhir_server, SEED_NAMES).values()]


@pytest.fixture
def seeded(fhir_server: Any) -> dict[str, SeedPatient]:
    """The checklist's seed patients on the FHIR server, by name."""
    return seeded_on(fhir_server, CHECKLIST_PATIENTS)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with Browser() as session:
        yield session


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> list[requests.PreparedRequest]:
    """Every HTTP request `requests` sends in this process during the test (a spy: the real send still runs)."""
    sent: list[requests.PreparedRequest] = []
    original = requests.adapters.HTTPAdapter.send

    def spy(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        sent.append(request)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    return sent


def sent_to(requests_sent: list[requests.PreparedRequest], base: str) -> list[requests.PreparedRequest]:
    return [r for r in requests_sent if (r.url or "").startswith(base)]


def sent_elsewhere(requests_sent: list[requests.PreparedRequest], app: RunningApp) -> list[requests.PreparedRequest]:
    """Requests not addressed to the app itself (i.e. what the app sent out)."""
    return [r for r in requests_sent if not (r.url or "").startswith(app.url)]


@pytest.fixture(scope="module")
def chromium() -> Iterator[PlaywrightBrowser]:
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
