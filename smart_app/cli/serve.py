"""`smart-app serve` (placeholder until implemented)."""

from __future__ import annotations

import click


@click.command(name="serve")
def serve() -> None:
    """Not implemented yet."""
    raise click.ClickException("smart-app serve is not implemented yet")
