"""Imports every table module so `Database.create_all()` sees all models. Add a line per new table module."""

from __future__ import annotations

from smart_app.store import (  # noqa: F401  (launch state: G; drafts: H; attestations: I)
    attestations,
    audit,
    clinicians,
    drafts,
    launches,
    maintenance,
    prior_auth_tables,
    sessions,
    tokens,
)
