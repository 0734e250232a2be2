"""The authorization server's WSGI server (waitress): connections are kept alive, so the FHIR server's
introspection calls and the EHR's requests do not pay a TCP handshake and a thread start each, and `stop()` stops
serving, even with an idle keep-alive connection open."""

from __future__ import annotations

import http.client

import pytest
import requests

from smart_app.sandbox.auth import start_auth_server


def test_one_connection_serves_several_requests_and_stop_ends_it() -> None:
    auth = start_auth_server(fhir_base="http://127.0.0.1:9/fhir")
    connection = http.client.HTTPConnection("127.0.0.1", auth.port, timeout=10)
    try:
        sockets = set()
        for _ in range(3):
            connection.request("GET", "/.well-known/smart-configuration")
            response = connection.getresponse()
            assert response.status == 200 and b"token_endpoint" in response.read()
            assert not response.will_close
            sockets.add(id(connection.sock))
        assert len(sockets) == 1  # the same socket answered every request
    finally:
        auth.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{auth.base_url}/jwks", timeout=5)
    connection.close()
