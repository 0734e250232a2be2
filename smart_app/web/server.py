"""Serving the app with werkzeug's threaded server (the sandbox, demos and tests).

Request lines are logged as method, path and status only: query strings carry authorization codes, `state`,
`launch` and search terms, which stay out of logs. For production run `smart_app:create_app()` under gunicorn
(several threaded workers, any number of instances sharing one database) behind a TLS-terminating proxy, with
`PUBLIC_URL` set; no sticky sessions are needed (README "Deploying").
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

logger = logging.getLogger("smart_app.web.requests")
MAX_LOGGED_PATH = 512


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Logs `METHOD /path STATUS`, never the query string, and never raises.

    Python's HTTP server answers a request line over 64 KiB with 414 itself, before it has parsed a method or a
    path, and logs that answer: the logger must cope with neither being there. The app answers 414 for shorter
    lines above `MAX_URL_LENGTH` (see `request_limits.py`). Error lines give the status only: the server's own
    messages quote the raw request line, query string included.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        command = getattr(self, "command", "") or "-"
        path = (getattr(self, "path", "") or "-").split("?", 1)[0]
        logger.info("%s %s %s", command, path[:MAX_LOGGED_PATH], code)

    def log_error(self, format: str, *args: Any) -> None:
        status = args[0] if args and isinstance(args[0], int) else "-"
        logger.warning("request refused by the server: status %s", status)


def make_app_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """A threaded werkzeug server for `app`, bound now (port 0 picks a free port); call `serve_forever()`."""
    return make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)
