"""The sandbox authorization server takes a burst of simultaneous connections (the load benchmark's 200 launches)."""

from __future__ import annotations

import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests

from smart_app.sandbox.auth import start_auth_server
from smart_app.sandbox.auth.server import LISTEN_BACKLOG


def listen_backlog(port: int) -> int:
    """The listening socket's backlog as the kernel reports it (`ss`: Send-Q of a LISTEN socket)."""
    line = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(line.split()[2])


def test_the_listen_backlog_holds_a_burst_and_every_connection_is_answered() -> None:
    auth = start_auth_server(fhir_base="http://127.0.0.1:9/fhir")
    try:
        port = int(auth.base_url.rsplit(":", 1)[1])
        assert listen_backlog(port) == LISTEN_BACKLOG > 128
        # 300 connections opened at once, before any request: none is reset, each then gets its answer.
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(300)]

        def ask(sock: socket.socket) -> bytes:
            with sock:
                sock.sendall(b"GET /jwks HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return sock.recv(64)

        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(ask, sockets))
        assert all(answer.startswith(b"HTTP/1.") and b" 200 " in answer for answer in answers)
        assert requests.get(f"{auth.base_url}/jwks", timeout=10).status_code == 200
    finally:
        auth.stop()
