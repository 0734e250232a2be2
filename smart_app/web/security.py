"""Security headers on every response.

CSP: only our own scripts and styles; `frame-ancestors` limited to the registered EHR origins (the app runs in
their iframes and nowhere else); `form-action` to ourselves plus, for the one page that posts the authorize form,
that authorization server. `Cache-Control: no-store` unless a view chose otherwise (PHI pages, error pages,
launch pages all stay out of caches). No `Referer` leaves the app (launch ids are in our URL paths).
"""

from __future__ import annotations

from flask import Flask, Response, g

from smart_app.web.services import services


def allow_form_action(origin: str) -> None:
    """Let this response's form post to `origin` (the POST authorize form)."""
    g.csp_form_action = [*g.get("csp_form_action", []), origin]


def content_security_policy() -> str:
    frame_ancestors = " ".join(["'self'", *services().registry.frame_ancestors()])
    form_action = " ".join(["'self'", *g.get("csp_form_action", [])])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action {form_action}; frame-ancestors {frame_ancestors}"
    )


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = content_security_policy()
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
