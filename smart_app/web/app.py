"""Builds the Flask app (called by `smart_app.create_app`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from smart_app.config import DEFAULTS


def build_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask("smart_app", instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env(prefix="SMART_APP")
    else:
        app.config.from_mapping(test_config)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
