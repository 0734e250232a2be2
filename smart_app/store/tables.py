"""Imports every table module so `Database.create_all()` sees all models. Add a line per new table module."""

from __future__ import annotations

from smart_app.store import audit, launches, sessions, tokens  # noqa: F401  (SMART launch state, brief G)
from smart_app.store import drafts  # noqa: F401  (draft orders kept locally, brief H)
