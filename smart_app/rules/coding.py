"""Loads the coding table (placeholder: the real loader replaces this module)."""

from __future__ import annotations

from typing import Any


def load_coding_table() -> dict[str, Any]:
    return {}
