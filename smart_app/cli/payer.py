"""`smart-app payer`: the sandbox payer alone (PAS `Claim/$submit`, `Claim/$inquire`, rest-hook Subscriptions,
SMART Backend Services tokens), for integrators; `smart-app sandbox` (and `make run`) starts it beside the sandbox
EHR and registers the app with it. Loopback only. Submissions are validated by HAPI FHIR's validator (a child JVM,
`make fhir-validator` builds it) unless `--no-validator`; without the jar it checks structure only and says so."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import click

from smart_app.sandbox.payer import PayerHandle, ValidatorSettings, start_payer_server
from smart_app.sandbox.payer.validator import default_igs_dir

PAYER_NAME = "sandbox-payer"
SERVED_PAYERS = ["medicare", "aetna", "bcbs-nd"]


def payer_settings(payer: PayerHandle, *, client_id: str) -> list[dict[str, Any]]:
    """The app's `PAYERS` setting for the sandbox payer (every payer profile we know goes there)."""
    return [
        {
            "name": PAYER_NAME,
            "title": "Sandbox payer (PAS, local)",
            "fhir_base": payer.fhir_base,
            "payer_ids": SERVED_PAYERS,
            "client_id": client_id,
            "program": "cms-0057-f",
        }
    ]


@click.command(name="payer")
@click.option("--port", default=8003, show_default=True, type=click.IntRange(0, 65535))
@click.option("--client", "clients", multiple=True, metavar="ID=JWKS_URL", help="A client allowed to get tokens.")
@click.option(
    "--mode", type=click.Choice(["auto", "approve", "deny", "pend", "error"]), default="auto", show_default=True
)
@click.option("--pend-seconds", default=5.0, show_default=True, type=float)
@click.option(
    "--validator/--no-validator",
    default=True,
    show_default=True,
    help="Validate submissions with HAPI FHIR's validator (started as a child process when its jar is built).",
)
@click.option(
    "--validator-igs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the IG packages (.tgz: PAS 2.2.1, DTR 2.0.1, CRD 2.0.1, US Core 7.0.0) "
    "[default: $SPINE_AUTH_PAYER_IGS]",
)
@click.option("--validator-heap", default="1g", show_default=True, help="The validator JVM's -Xmx.")
def payer(
    port: int,
    clients: tuple[str, ...],
    mode: str,
    pend_seconds: float,
    validator: bool,
    validator_igs: Path | None,
    validator_heap: str,
) -> None:
    """Run the sandbox payer until Ctrl+C."""
    settings = None
    if validator:
        settings = ValidatorSettings(
            igs_dir=validator_igs.resolve() if validator_igs else default_igs_dir(), max_heap=validator_heap
        )
    handle = start_payer_server(port=port, validator=settings)
    for item in clients:
        client_id, _, jwks_uri = item.partition("=")
        if not client_id or not jwks_uri:
            raise click.BadParameter("use ID=JWKS_URL", param_hint="--client")
        handle.register_client(client_id, jwks_uri=jwks_uri)
    handle.set_switches(mode=mode, pend_seconds=pend_seconds)

    def stop(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # before anything is printed: a reader may stop us as soon as it reads
    try:
        click.echo(f"sandbox payer: {handle.fhir_base} (token endpoint {handle.base_url}/auth/token). Ctrl+C stops.")
        click.echo(f"sandbox payer checks submissions: {handle.validation}")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
