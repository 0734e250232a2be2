"""The `smart-app` command: check, order, seed, sandbox, serve, db.

Each subcommand lives in its own module, imported only when it runs (click's lazy-loading pattern), so
`smart-app check` does not pay for Flask, SQLAlchemy or the sandbox. Bad input exits 2 with a one-line reason on
stderr (never a traceback); FHIR server failures exit 3 (see ../shared/contracts/CLI.md).
"""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS: dict[str, str] = {
    "check": "smart_app.cli.check:check",
    "order": "smart_app.cli.order:order",
    "packet": "smart_app.cli.packet:packet",
    "payer": "smart_app.cli.payer:payer",
    "seed": "smart_app.cli.seed:seed",
    "sandbox": "smart_app.cli.sandbox:sandbox",
    "serve": "smart_app.cli.serve:serve",
    "db": "smart_app.cli.db:db",
}


class LazyGroup(click.Group):
    """A group whose subcommands are `module:attribute` strings, imported on first use."""

    def __init__(self, *args: object, lazy_subcommands: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_subcommands = lazy_subcommands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, attribute = self.lazy_subcommands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spine-auth", prog_name="smart-app")
def main() -> None:
    """spine-auth: facet and pars injection candidacy, coding and prior-authorization drafts."""
