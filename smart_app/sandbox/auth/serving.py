"""The WSGI server under the sandbox authorization server: waitress, in a background thread.

Why not werkzeug's development server: it closes every connection after one response and starts a thread per
connection, so each request (the browser's, the app's, and above all the FHIR server's introspection calls) paid a
TCP handshake, a thread start and http.server's email-package header parsing. waitress keeps connections alive,
serves them from a fixed pool of threads and parses headers itself.

The pool is large on purpose: an /ehr/launch may wait on the FHIR server, which may in turn introspect the
sandbox's own token here; if a burst of launches held every thread, that introspection would wait in the queue
until the FHIR server gave up (5 s) and the launches failed. 256 threads cover the load benchmark's 200
simultaneous launches (idle threads cost memory, not CPU); the FHIR server caches that token's answer, so this
happens at most once a minute."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from waitress.server import create_server  # type: ignore[import-untyped]
from waitress.wasyncore import close_all  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
# "Task queue depth is N": expected during a burst of launches, not worth a warning per request.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

LISTEN_BACKLOG = 2048
WORKER_THREADS = 256
CONNECTION_LIMIT = 4096
JOIN_SECONDS = 5.0

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def path_only_access_log(app: WsgiApp, access_log: logging.Logger) -> WsgiApp:
    """Logs method, path and status only: query strings (state, launch, codes in redirects) never reach the log."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = status.split(" ", 1)[0]
            access_log.info("%s %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), code)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged


class BackgroundWsgiServer:
    """A waitress server on `host:port` (0: a free port), listening when constructed, serving once started."""

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self._app: WsgiApp = app
        self._server: Any = create_server(
            self._dispatch,
            host=host,
            port=port,
            threads=WORKER_THREADS,
            backlog=LISTEN_BACKLOG,
            connection_limit=CONNECTION_LIMIT,
            ident="spine-auth-sandbox",
            clear_untrusted_proxy_headers=True,
        )
        self._thread = threading.Thread(target=self._run, name="sandbox-auth-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def set_app(self, app: WsgiApp) -> None:
        self._app = app

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._app(environ, start_response)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError as error:  # a descriptor closed under the loop while stopping
            log.debug("waitress loop ended: %s", type(error).__name__)

    def stop(self) -> None:
        """Close the listening socket and every connection from inside the server's loop, then its threads."""
        server = self._server
        server.trigger.pull_trigger(lambda: close_all(server._map))
        self._thread.join(timeout=JOIN_SECONDS)
        server.task_dispatcher.shutdown(timeout=JOIN_SECONDS)
