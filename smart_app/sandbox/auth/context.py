"""Access to the running server's state from inside Flask views."""

from __future__ import annotations

from flask import current_app

from .oauth import SandboxAuthorizationServer
from .state import SandboxState

EXTENSION_KEY = "smart_sandbox_auth"


def oauth_server() -> SandboxAuthorizationServer:
    server: SandboxAuthorizationServer = current_app.extensions[EXTENSION_KEY]
    return server


def sandbox() -> SandboxState:
    return oauth_server().sandbox
