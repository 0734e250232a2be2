"""The browser session: an opaque random token in a cookie, nothing else.

The cookie is `Secure; HttpOnly; SameSite=None; Partitioned` so it is sent inside an EHR iframe (CHIPS) and
never readable by scripts. Tokens and launch context live server-side, found through the session and the launch
id in the URL. A CSRF token for our own forms is an HMAC of the session, so it needs no storage.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, current_app, g, request

from smart_app.store.sessions import create_browser_session, find_browser_session, hash_token
from smart_app.web.errors import AppError
from smart_app.web.services import services


def current_session_hash() -> str | None:
    """The stored hash of this browser's live session, or None (no cookie, unknown or expired)."""
    if "session_hash" not in g:
        token = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"], "")
        found = None
        if token:
            app_services = services()
            with app_services.database.session() as db:
                session = find_browser_session(db, token, now=app_services.clock())
                found = session.id_hash if session else None
        g.session_hash = found
    value: str | None = g.session_hash
    return value


def ensure_session() -> str:
    """This browser's session hash, creating the session (and setting the cookie on the response) if needed."""
    existing = current_session_hash()
    if existing is not None:
        return existing
    app_services = services()
    with app_services.database.session() as db:
        token = create_browser_session(
            db, now=app_services.clock(), ttl_seconds=float(current_app.config["SESSION_TTL_SECONDS"])
        )
    g.new_session_token = token
    g.session_hash = hash_token(token)
    created: str = g.session_hash
    return created


def csrf_token() -> str:
    """A token for our own POST forms, bound to the browser session."""
    session_hash = ensure_session()
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"csrf:{session_hash}".encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    """Refuse a POST whose form token does not match this browser session.

    Raises:
        AppError: 403 when missing or wrong.
    """
    session_hash = current_session_hash()
    sent = request.form.get("csrf_token", "")
    if session_hash is None or not hmac.compare_digest(sent, csrf_token()):
        raise AppError(
            403,
            "csrf",
            "Form expired",
            "This form is no longer valid. Go back, reload and try again.",
            issue_code="security",
        )


def init_app(app: Flask) -> None:
    @app.after_request
    def set_session_cookie(response: Response) -> Response:
        token = g.pop("new_session_token", None)
        if token is not None:
            response.set_cookie(
                app.config["SESSION_COOKIE_NAME"],
                token,
                max_age=int(app.config["SESSION_TTL_SECONDS"]),
                path="/",
                secure=True,
                httponly=True,
                samesite="None",
                partitioned=True,
            )
        return response
