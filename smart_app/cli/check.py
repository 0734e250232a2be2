"""`smart-app check` (placeholder until implemented)."""

from __future__ import annotations

import click


@click.command(name="check")
def check() -> None:
    """Not implemented yet."""
    raise click.ClickException("smart-app check is not implemented yet")
