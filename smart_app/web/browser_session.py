"""The browser session: an opaque random token in a cookie, nothing else.

The cookie is `Secure; HttpOnly; SameSite=None; Partitioned` so it is sent inside an EHR iframe (CHIPS) and
never readable by scripts. Tokens and launch context live server-side, found through the session and the launch
id in the URL. A CSRF token for our own forms is an HMAC of the session, so it needs no storage.

Each authorize round trip also sets a short-lived launch cookie (same attributes, path `/callback`, one per state)
whose value is an HMAC of the state: the callback is accepted only by the browser that started the launch, so a
callback URL captured from someone else's launch logs nobody in (login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Flask, Request, Response, current_app, g, request, url_for
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import Connection

from smart_app.store.sessions import hash_token, insert_browser_session, live_session_hash
from smart_app.web.errors import AppError
from smart_app.web.services import services


def session_cookie_hash() -> str | None:
    """The hash of the session cookie this request carries (None without one); not yet checked to be live."""
    token = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"], "")
    return hash_token(token) if token and len(token) <= 128 else None


def remember_live_session(session_hash: str | None) -> None:
    """Record what a caller already found out about this request's session (e.g. with its launch, in one
    query), so `current_session_hash` does not look it up again during the request."""
    g.session_hash = session_hash


def current_session_hash(db: Connection | None = None) -> str | None:
    """The stored hash of this browser's live session, or None (no cookie, unknown or expired). Looked up once
    per request (in `db`'s transaction when given)."""
    if "session_hash" not in g:
        token = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"], "")
        found = None
        if token:
            app_services = services()
            if db is None:
                with app_services.database.transaction() as own:
                    found = live_session_hash(own, token, now=app_services.clock())
            else:
                found = live_session_hash(db, token, now=app_services.clock())
        g.session_hash = found
    value: str | None = g.session_hash
    return value


def ensure_session(db: Connection | None = None) -> str:
    """This browser's session hash, creating the session (and setting the cookie on the response) if needed;
    with `db`, inside that transaction."""
    existing = current_session_hash(db)
    if existing is not None:
        return existing
    app_services = services()
    ttl = float(current_app.config["SESSION_TTL_SECONDS"])
    if db is None:
        with app_services.database.transaction() as own:
            token = insert_browser_session(own, now=app_services.clock(), ttl_seconds=ttl)
    else:
        token = insert_browser_session(db, now=app_services.clock(), ttl_seconds=ttl)
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


LAUNCH_COOKIE_PREFIX = "spine_auth_launch_"


def _launch_binding(state: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"launch-binding:{state}".encode(), hashlib.sha256).hexdigest()


def _launch_cookie_name(state: str) -> str:
    # One cookie per state, so launches started in two tabs do not overwrite each other's binding.
    return LAUNCH_COOKIE_PREFIX + hashlib.sha256(state.encode("utf-8")).hexdigest()[:16]


def bind_launch_to_browser(state: str) -> None:
    """Set (on this response) the cookie that proves, at the callback, that this browser started the launch."""
    g.launch_cookies_set = [*g.get("launch_cookies_set", []), (_launch_cookie_name(state), _launch_binding(state))]


def browser_started_launch(state: str) -> bool:
    """True when this request carries the launch cookie set for `state` (checked before the state is used up)."""
    sent = request.cookies.get(_launch_cookie_name(state), "")
    return bool(state) and hmac.compare_digest(sent, _launch_binding(state))


def forget_launch_binding(state: str) -> None:
    """Expire the launch cookie of `state` (the callback has used it)."""
    g.launch_cookies_expired = [*g.get("launch_cookies_expired", []), _launch_cookie_name(state)]


class NoCookieSession(SessionInterface):
    """Flask's own session is never used: the browser session is server-side (this module), under the cookie name
    Flask's signed-cookie session would read. Left in place, Flask tried to verify that cookie as its own on every
    request (an HMAC and a failed signature check each time) for nothing. `flask.session` is now a null session:
    reading it is empty, writing it raises."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        return None


def init_app(app: Flask) -> None:
    app.session_interface = NoCookieSession()

    def set_cookie(response: Response, name: str, value: str, *, max_age: int, path: str) -> None:
        # Secure + Partitioned + SameSite=None: sent inside the EHR's iframe (CHIPS). Browsers treat loopback
        # http (the sandbox, the tests) as a secure context, so Secure cookies work there too.
        response.set_cookie(
            name, value, max_age=max_age, path=path, secure=True, httponly=True, samesite="None", partitioned=True
        )

    @app.after_request
    def set_session_cookie(response: Response) -> Response:
        token = g.pop("new_session_token", None)
        if token is not None:
            set_cookie(
                response,
                app.config["SESSION_COOKIE_NAME"],
                token,
                max_age=int(app.config["SESSION_TTL_SECONDS"]),
                path="/",
            )
        to_set = g.pop("launch_cookies_set", [])
        to_expire = g.pop("launch_cookies_expired", [])
        if to_set or to_expire:
            callback_path = url_for("launch.callback")
            ttl = int(app.config["LAUNCH_STATE_TTL_SECONDS"])
            for name, value in to_set:
                set_cookie(response, name, value, max_age=ttl, path=callback_path)
            for name in to_expire:
                set_cookie(response, name, "", max_age=0, path=callback_path)
        return response
