"""spine-auth: a SMART on FHIR app for lumbar pars and facet joint procedure candidacy and prior authorization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported only when an app is built, so the CLI's `check` starts fast.
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: config → rules → storage → web blueprints."""
    from smart_app.web.app import build_app

    return build_app(test_config)
