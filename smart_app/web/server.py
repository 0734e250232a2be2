"""Serving the app with werkzeug's threaded server (the sandbox, demos and tests).

Request lines are logged as method, path and status only: query strings carry authorization codes, `state`,
`launch` and search terms, which stay out of logs. For production run `smart_app:create_app()` under gunicorn
(several threaded workers, any number of instances sharing one database) behind a TLS-terminating proxy, with
`PUBLIC_URL` set; no sticky sessions are needed (README "Deploying").
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
