"""The `smart-app` command: check, order, seed, sandbox, serve.

Each subcommand lives in its own module; this group only wires them together. Bad input exits 2 with a
one-line reason on stderr (never a traceback); FHIR server failures exit 3 (see ../shared/contracts/CLI.md).
"""

from __future__ import annotations

import click

from smart_app.cli.check import check
from smart_app.cli.order import order
from smart_app.cli.sandbox import sandbox
from smart_app.cli.seed import seed
from smart_app.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spine-auth", prog_name="smart-app")
def main() -> None:
    """spine-auth: facet and pars injection candidacy, coding and prior-authorization drafts."""


main.add_command(check)
main.add_command(order)
main.add_command(seed)
main.add_command(sandbox)
main.add_command(serve)
