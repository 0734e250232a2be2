"""The sandbox payer: a PAS 2.2.1 prior-authorization endpoint on loopback, beside the sandbox EHR.

handle = start_payer_server(port=0)
handle.register_client("spine-auth", jwks_uri="http://127.0.0.1:8000/.well-known/jwks.json")
handle.fhir_base       → http://127.0.0.1:P/fhir   (Claim/$submit, Claim/$inquire, Subscription)
handle.set_switches(mode="pend", pend_seconds=1, then="deny", deny_reason="no-diagnosis")
handle.stats(), handle.reset(), handle.stop()
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_payer_app
from .state import PayerState, SwitchError, Switches

__all__ = ["PayerHandle", "SwitchError", "Switches", "start_payer_server"]

log = logging.getLogger(__name__)


class _PathOnlyRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


class PayerHandle:
    """A running sandbox payer."""

    def __init__(self, server: BaseWSGIServer, state: PayerState) -> None:
        self._server = server
        self.state = state
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-payer", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def fhir_base(self) -> str:
        return self.state.fhir_base

    @property
    def port(self) -> int:
        return int(self._server.port)

    def register_client(self, client_id: str, *, jwks_uri: str) -> None:
        """A client allowed to get tokens (SMART Backend Services, private_key_jwt checked against `jwks_uri`)."""
        with self.state.lock:
            self.state.clients[client_id] = jwks_uri

    def set_switches(self, **switches: Any) -> Switches:
        with self.state.lock:
            self.state.switches.update(switches)
            return self.state.switches

    def stats(self) -> dict[str, int]:
        with self.state.lock:
            return {
                **self.state.stats,
                "subscriptions": len(self.state.subscriptions),
                "claims": len(self.state.claims),
            }

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self.state.reset()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_payer_server(*, port: int = 0, host: str = "127.0.0.1") -> PayerHandle:
    """Start the payer; it accepts connections when this returns (`port=0` picks a free port)."""
    state = PayerState()
    server = make_server(host, port, create_payer_app(state), threaded=True, request_handler=_PathOnlyRequestHandler)
    state.base_url = f"http://{host}:{server.port}"
    return PayerHandle(server, state)
