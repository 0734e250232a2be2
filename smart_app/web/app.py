"""Builds the Flask app (called by `smart_app.create_app`): config, services, blueprints, errors, headers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from smart_app.config import DEFAULTS, check_public_url
from smart_app.store.secret_files import make_private_dir

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def build_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app. Without `test_config`, settings come from `SMART_APP_*` environment variables over the defaults.

    Raises:
        ConfigError: the configuration is invalid (bad EHRS entry, keys, …).
    """
    app = Flask(
        "smart_app",
        instance_relative_config=True,
        instance_path=(test_config or {}).get("INSTANCE_PATH"),
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env(prefix="SMART_APP")
    else:
        app.config.from_mapping(test_config)
    app.config["PUBLIC_URL"] = check_public_url(app.config.get("PUBLIC_URL"))

    from smart_app.web import (
        browser_session,
        clinician,
        maintenance,
        rate_limits,
        record_reads,
        request_limits,
        security,
        sign_ins_first,
    )
    from smart_app.web.checklist import bp as checklist_bp
    from smart_app.web.errors import register_error_handlers
    from smart_app.web.launch import bp as launch_bp
    from smart_app.web.launch_context import close_fhir_clients
    from smart_app.web.open_server import bp as open_server_bp
    from smart_app.web.orders import bp as orders_bp
    from smart_app.web.packet import bp as packet_bp
    from smart_app.web.patient import bp as patient_bp
    from smart_app.web.services import init_services
    from smart_app.web.vendor import bp as vendor_bp
    from smart_app.web.worklist_blueprints import register_prior_auth

    make_private_dir(Path(app.instance_path))  # 0700: generated keys, the SQLite file, the sandbox's logs
    init_services(app)
    app.teardown_appcontext(close_fhir_clients)
    request_limits.init_app(app)
    browser_session.init_app(app)
    security.init_app(app)
    clinician.init_app(app)
    rate_limits.init_app(app)
    record_reads.init_app(app)
    sign_ins_first.init_app(app)
    maintenance.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(launch_bp)
    app.register_blueprint(open_server_bp)
    app.register_blueprint(patient_bp)
    app.register_blueprint(checklist_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(vendor_bp)
    app.register_blueprint(packet_bp)
    register_prior_auth(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
