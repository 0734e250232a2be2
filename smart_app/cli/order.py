"""`smart-app order` (placeholder until implemented)."""

from __future__ import annotations

import click


@click.command(name="order")
def order() -> None:
    """Not implemented yet."""
    raise click.ClickException("smart-app order is not implemented yet")
