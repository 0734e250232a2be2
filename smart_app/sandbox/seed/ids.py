"""Deterministic identifiers: every seed id is a UUID version 5 of a fixed namespace and readable names.

The same scenario name and resource key always give the same id, so regenerating the bundles changes nothing
and loading them twice into a server overwrites instead of duplicating (every entry is a `PUT Type/id`).
"""

from __future__ import annotations

import uuid

# uuid5(NAMESPACE_URL, "https://spine-auth.example/sandbox/seed"), written out so it can never drift.
SEED_NAMESPACE = uuid.UUID("a76ce6fd-1732-541e-9717-28b014503ad6")


def seed_uuid(*names: str) -> str:
    """The id for a path of names, e.g. `seed_uuid("lumbar-mbb-first-ready", "Procedure", "3")`."""
    if not names or any(not name for name in names):
        raise ValueError("seed ids need at least one non-empty name")
    return str(uuid.uuid5(SEED_NAMESPACE, "/".join(names)))
