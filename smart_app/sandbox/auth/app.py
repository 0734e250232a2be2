"""The Flask application of the sandbox authorization server."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from . import views_admin, views_ehr, views_oauth
from .context import EXTENSION_KEY
from .oauth import SandboxAuthorizationServer
from .state import SandboxState

TEMPLATES = Path(__file__).parent / "templates"


def create_auth_app(state: SandboxState) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.extensions[EXTENSION_KEY] = SandboxAuthorizationServer(state)
    app.register_blueprint(views_oauth.bp)
    app.register_blueprint(views_ehr.bp)
    app.register_blueprint(views_admin.bp)
    return app
