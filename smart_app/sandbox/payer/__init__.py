"""The sandbox payer: a PAS 2.2.1 prior-authorization endpoint on loopback, beside the sandbox EHR.

handle = start_payer_server(port=0)
handle.register_client("spine-auth", jwks_uri="http://127.0.0.1:8000/.well-known/jwks.json")
handle.fhir_base       → http://127.0.0.1:P/fhir   (Claim/$submit, Claim/$inquire, Subscription)
handle.set_switches(mode="pend", pend_seconds=1, then="deny", deny_reason="no-diagnosis")
handle.stats(), handle.reset(), handle.stop()

Submissions are validated by HAPI FHIR's validator (tools/fhir-validator) started as a child process when its jar
is built and the IG packages are named ($SPINE_AUTH_PAYER_IGS or `ValidatorSettings(igs_dir=…)`):
`start_payer_server(validator=ValidatorSettings(...))` (the default reads the environment; payers of one process
with the same settings share one JVM), a running `PasValidator`, or `validator=None` for structural checks only.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_payer_app
from .state import PayerState, SwitchError, Switches
from .validator import (
    PasValidator,
    ValidatorSettings,
    ValidatorUnavailable,
    acquire_validator,
    release_validator,
    start_validator,
)

__all__ = [
    "PasValidator",
    "PayerHandle",
    "SwitchError",
    "Switches",
    "ValidatorSettings",
    "ValidatorUnavailable",
    "start_payer_server",
    "start_validator",
]

log = logging.getLogger(__name__)


class _PathOnlyRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


class PayerHandle:
    """A running sandbox payer."""

    def __init__(self, server: BaseWSGIServer, state: PayerState, *, owns_validator: bool = False) -> None:
        self._server = server
        self.state = state
        self._owns_validator = owns_validator
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

    @property
    def validation(self) -> str:
        """What the payer checks, in words (for the command line)."""
        validator = self.state.validator
        if validator is None:
            return "structure only"
        state = "ready" if validator.ready else "loading, submissions wait for it"
        return f"HAPI FHIR validator against the PAS request Bundle profile ({state})"

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
        if self._owns_validator and self.state.validator is not None:
            release_validator(self.state.validator)


def start_payer_server(
    *, port: int = 0, host: str = "127.0.0.1", validator: ValidatorSettings | PasValidator | str | None = "environment"
) -> PayerHandle:
    """Start the payer; it accepts connections when this returns (`port=0` picks a free port). The default
    ("environment") is `ValidatorSettings()` read at call time ($SPINE_AUTH_PAYER_IGS names the IG packages).
    With settings, the validator JVM is started as a child process (it loads in the background) when it can be;
    when it cannot (jar not built, no Java, packages missing) one log line says the payer checks structure only,
    and why."""
    state = PayerState()
    owns = False
    if isinstance(validator, str):
        validator = ValidatorSettings()
    if isinstance(validator, ValidatorSettings):
        reason = validator.missing()
        if reason:
            log.warning("sandbox payer: validates structure only: %s", reason)
        else:
            try:
                state.validator, owns = acquire_validator(validator), True
            except ValidatorUnavailable as error:
                log.warning("sandbox payer: validates structure only: %s", error)
    elif validator is not None:
        state.validator = validator
    try:
        app = create_payer_app(state)
        server = make_server(host, port, app, threaded=True, request_handler=_PathOnlyRequestHandler)
    except BaseException:
        if owns and state.validator is not None:
            release_validator(state.validator)
        raise
    state.base_url = f"http://{host}:{server.port}"
    return PayerHandle(server, state, owns_validator=owns)
