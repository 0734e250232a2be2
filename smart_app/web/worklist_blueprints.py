"""Registers the prior-authorization staff pages: worklist, request pages, audit trail, payer notifications."""

from __future__ import annotations

from flask import Flask

from smart_app.payer_registry import PayerRegistry


def register_prior_auth(app: Flask) -> None:
    """Add the blueprints; a malformed PAYERS setting fails here, at start-up (ConfigError)."""
    from smart_app.web.audit_trail import bp as audit_bp
    from smart_app.web.payer_notifications import bp as notifications_bp
    from smart_app.web.worklist import bp as worklist_bp
    from smart_app.web.worklist_packet import bp as packet_bp
    from smart_app.web.worklist_request import bp as request_bp

    PayerRegistry(app.config.get("PAYERS") or [])
    app.register_blueprint(worklist_bp)
    app.register_blueprint(request_bp)
    app.register_blueprint(packet_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(notifications_bp)
