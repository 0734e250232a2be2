"""`smart-app seed` (placeholder until implemented)."""

from __future__ import annotations

import click


@click.command(name="seed")
def seed() -> None:
    """Not implemented yet."""
    raise click.ClickException("smart-app seed is not implemented yet")
