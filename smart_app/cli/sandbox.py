"""`smart-app sandbox` (placeholder until implemented)."""

from __future__ import annotations

import click


@click.command(name="sandbox")
def sandbox() -> None:
    """Not implemented yet."""
    raise click.ClickException("smart-app sandbox is not implemented yet")
