"""Serving the app with werkzeug's threaded server (the sandbox, demos and tests).

Request lines are logged as method, path and status only: query strings carry authorization codes, `state`,
`launch` and search terms, which stay out of logs. For production run a WSGI server (gunicorn with several
threaded workers, or waitress) behind a TLS-terminating proxy, with `PUBLIC_URL` set and sticky sessions per
launch if more than one process serves the app (token refresh is single-flight per process).
"""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

logger = logging.getLogger("smart_app.web.requests")


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Logs `METHOD /path STATUS`, never the query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


def make_app_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """A threaded werkzeug server for `app`, bound now (port 0 picks a free port); call `serve_forever()`."""
    return make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)
