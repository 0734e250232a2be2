"""Documented defaults for the app. Override with environment variables `SMART_APP_<NAME>` (JSON values are
parsed, so `SMART_APP_EHRS='[...]'` works) or with a mapping passed to `create_app(test_config)`.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # Flask
    "SECRET_KEY": None,  # generated per instance folder when unset
    "SESSION_COOKIE_NAME": "spine_auth_session",
    # Storage: SQLite in the instance folder unless a URL is given (any SQLAlchemy URL works).
    "DATABASE_URL": None,
    # Registered EHRs (the iss allowlist). A list of mappings; see smart_app/web docs and README.
    "EHRS": [],
    # Default payer when the record's Coverage does not say otherwise.
    "DEFAULT_PAYER": "medicare",
}
