"""The sandbox payer on a free port, and a small client on loopback beside it: it serves our JWKS (the payer checks
private_key_jwt assertions against it) and receives the payer's rest-hook notifications."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from smart_app.fhir.signing_keys import SigningKey, generate_signing_key, public_jwks
from smart_app.sandbox.payer import PayerHandle, start_payer_server

CLIENT_ID = "spine-auth-payer-tests"


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
def payer_server(client_host: ClientHost) -> Iterator[PayerHandle]:
    handle = start_payer_server()
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
