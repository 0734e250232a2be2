"""Run the sandbox authorization server on loopback in a background thread."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from ..constants import SANDBOX_PRACTITIONER_ID
from .app import create_auth_app
from .records import DEFAULT_ACCESS_TOKEN_LIFETIME, GrantContext
from .registration import ClientRegistration
from .serving import LISTEN_BACKLOG as LISTEN_BACKLOG  # the tests read it here
from .serving import BackgroundWsgiServer, path_only_access_log
from .state import SandboxState
from .switches import Switches

log = logging.getLogger(__name__)

DEFAULT_RESOURCE_SERVERS: Mapping[str, str] = {"sandbox-fhir": "sandbox-fhir-introspection-secret"}
DEFAULT_FHIR_USER = f"Practitioner/{SANDBOX_PRACTITIONER_ID}"
TEST_CLIENT_ID = "sandbox-tests"


def _unused_wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class AuthServerHandle:
    """A running sandbox authorization server. `base_url` is its issuer (e.g. `http://127.0.0.1:8081`)."""

    def __init__(self, server: BackgroundWsgiServer, state: SandboxState) -> None:
        self._server = server
        self._state = state
        server.start()

    @property
    def base_url(self) -> str:
        return self._state.issuer

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def fhir_base(self) -> str:
        return self._state.fhir_base

    @property
    def ehr_url(self) -> str:
        return self._state.url("/ehr")

    @property
    def switches(self) -> Switches:
        return self._state.switches

    @property
    def introspections(self) -> int:
        """Introspection requests answered since start (each FHIR request the FHIR server could not answer from
        its cache of introspection answers costs one)."""
        return self._state.introspections

    def register_client(self, registration: ClientRegistration) -> None:
        self._state.store.register_app(registration)

    def set_switches(self, **switches: Any) -> Switches:
        """Change some switches (see `Switches`); raises SwitchError on a bad name or value, changing nothing."""
        return self._state.update_switches(switches)

    def reset_switches(self) -> Switches:
        return self._state.reset_switches()

    def issue_token(
        self, scope: str, patient: str | None = None, lifetime: int | None = None, client_id: str = TEST_CLIENT_ID
    ) -> str:
        """Mint an access token for the sandbox user directly (no OAuth flow, switches not applied)."""
        context = GrantContext(user=self._state.user, patient=patient)
        record = self._state.issue_token(
            scope=scope, client_id=client_id, context=context, lifetime=lifetime or DEFAULT_ACCESS_TOKEN_LIFETIME
        )
        return record.access_token

    def stop(self) -> None:
        self._server.stop()
        self._state.close()

    def __enter__(self) -> AuthServerHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def start_auth_server(
    *,
    port: int = 0,
    fhir_base: str,
    clients: Sequence[ClientRegistration] = (),
    resource_servers: Mapping[str, str] = DEFAULT_RESOURCE_SERVERS,
    fhir_user: str = DEFAULT_FHIR_USER,
    host: str = "127.0.0.1",
) -> AuthServerHandle:
    """Start the server; it accepts connections when this returns. `port=0` picks a free port."""
    _silence_token_logging()
    server = BackgroundWsgiServer(host, port, _unused_wsgi_app)  # listening now, with a backlog for bursts
    state = SandboxState(issuer=f"http://{host}:{server.port}", fhir_base=fhir_base, fhir_user=fhir_user)
    for client_id, secret in resource_servers.items():
        state.store.register_resource_server(client_id, secret)
    for registration in clients:
        state.store.register_app(registration)
    server.set_app(path_only_access_log(create_auth_app(state), log))  # this module's logger, as before
    return AuthServerHandle(server, state)


def _silence_token_logging() -> None:
    """authlib logs issued tokens at DEBUG ("Issue token %r to %r"): pin its logger at INFO or above, so that turning
    on DEBUG for the root logger later does not reach it."""
    authlib_log = logging.getLogger("authlib")
    if authlib_log.level < logging.INFO:
        authlib_log.setLevel(logging.INFO)
