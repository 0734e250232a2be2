"""Limits on what a request may make the app do: body size, URL length, JSON nesting.

- A body larger than `MAX_CONTENT_LENGTH` (default 1 MiB; JSON and forms) is refused with 413 before it is read,
  from its Content-Length; a chunked body is cut off at the same size by werkzeug's limited stream (also 413).
- A URL (path and query) longer than `MAX_URL_LENGTH` (default 8 KiB) gets 414; the werkzeug server answers 414
  itself above 64 KiB, before the app sees the request (see `server.py`).
- JSON nested too deeply for the parser (a RecursionError) is treated as invalid JSON: 400, never a 500.

API callers (a JSON body or `Accept: application/json`) get an OperationOutcome, browsers a page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from smart_app.web.errors import AppError, render_error, wants_json


class DepthSafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where input nested beyond the parser's recursion limit is invalid JSON (ValueError)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as error:
            raise ValueError("JSON nested too deeply") from error


def body_too_large(limit: int) -> AppError:
    return AppError(
        413,
        "body-too-large",
        "The request is too large",
        f"The request body is larger than the {limit:,} bytes the app accepts.",
        issue_code="too-costly",
    )


def url_too_long(limit: int) -> AppError:
    return AppError(
        414,
        "url-too-long",
        "The address is too long",
        f"The request address is longer than the {limit:,} characters the app accepts.",
        issue_code="too-costly",
    )


def _json_caller() -> bool:
    return request.is_json or wants_json()


def _request_target_length() -> int:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if isinstance(raw, str):
        return len(raw)
    query = request.environ.get("QUERY_STRING", "")
    return len(request.path) + (len(query) + 1 if query else 0)


def _body_exceeds(limit: int) -> bool:
    """True when the body is larger than `limit`: from Content-Length without reading it, or, for a chunked body,
    by reading at most `limit` bytes (kept for the view) and finding more behind them."""
    if request.content_length is not None:
        return request.content_length > limit
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return False
    # werkzeug silently truncates a chunked body at the limit (the view would see broken JSON, a 400); read it
    # here, bounded, and look for one byte more: the limited stream raises RequestEntityTooLarge if there is.
    request.get_data(cache=True)
    try:
        request.stream.read(1)
    except RequestEntityTooLarge:
        return True
    return False


def init_app(app: Flask) -> None:
    app.json = DepthSafeJSONProvider(app)

    @app.before_request
    def refuse_oversized_requests() -> Response | None:
        url_limit = int(current_app.config["MAX_URL_LENGTH"])
        if _request_target_length() > url_limit:
            return render_error(url_too_long(url_limit), as_json=_json_caller())
        body_limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if body_limit is not None and _body_exceeds(int(body_limit)):
            return render_error(body_too_large(int(body_limit)), as_json=_json_caller())
        return None

    @app.errorhandler(RequestEntityTooLarge)
    def handle_too_large(_error: RequestEntityTooLarge) -> Response:
        limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        return render_error(body_too_large(limit), as_json=_json_caller())
