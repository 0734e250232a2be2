"""The sandbox payer on a free port, and a small client on loopback beside it: it serves our JWKS (the payer checks
private_key_jwt assertions against it) and receives the payer's rest-hook notifications. The payer validates what it
receives with HAPI FHIR's validator: one JVM for the whole session (`pas_validator`, shared with every payer of the
session started with the same settings)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from smart_app.fhir.signing_keys import SigningKey, generate_signing_key, public_jwks
from smart_app.sandbox.payer import PasValidator, PayerHandle, ValidatorSettings, start_payer_server
from smart_app.sandbox.payer.validator import DEFAULT_JAR, PROJECT, acquire_validator, release_validator
from tests.conftest import DATA_DIR

CLIENT_ID = "spine-auth-payer-tests"
VALIDATOR_SETTINGS = ValidatorSettings(igs_dir=(DATA_DIR / "igs").resolve())


@dataclass
class ClientHost:
    """Our side on loopback: `/jwks` and `/notify` (records each notification with its Authorization header)."""

    url: str
    key: SigningKey
    notifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handlers: list[Any] = field(default_factory=list)

    def wait_for_notifications(self, count: int, timeout: float = 15.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.notifications) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.notifications)


@pytest.fixture(scope="session")
def client_host() -> Iterator[ClientHost]:
    host = ClientHost(url="", key=generate_signing_key("ES384"))

    @Request.application  # type: ignore[arg-type]
    def application(request: Request) -> Response:
        if request.path == "/jwks":
            return Response(json.dumps(public_jwks([host.key])), mimetype="application/json")
        if request.path == "/notify" and request.method == "POST":
            body = json.loads(request.get_data(as_text=True))
            for handler in host.handlers:
                handler(body)
            host.notifications.append((request.headers.get("Authorization", ""), body))
            return Response(status=204)
        return Response(status=404)

    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host.url = f"http://127.0.0.1:{server.port}"
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def pas_validator() -> Iterator[PasValidator]:
    """HAPI FHIR's validator in server mode (`make fhir-validator` builds the jar when it is missing)."""
    if not DEFAULT_JAR.exists():
        subprocess.run(["make", "-C", str(PROJECT), "fhir-validator"], check=True, capture_output=True)
    validator = acquire_validator(VALIDATOR_SETTINGS)
    try:
        validator.wait_ready()  # ~20 s, once; test_payer_validation.py covers a submission that waits for it
        yield validator
    finally:
        release_validator(validator)


@pytest.fixture(scope="session")
def payer_server(client_host: ClientHost, pas_validator: PasValidator) -> Iterator[PayerHandle]:
    handle = start_payer_server(validator=pas_validator)
    handle.register_client(CLIENT_ID, jwks_uri=f"{client_host.url}/jwks")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def payer(payer_server: PayerHandle, client_host: ClientHost) -> Iterator[PayerHandle]:
    """The payer with its defaults and no claims; notifications received are cleared."""
    payer_server.reset()
    client_host.notifications.clear()
    client_host.handlers.clear()
    try:
        yield payer_server
    finally:
        payer_server.reset()
