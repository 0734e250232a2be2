"""`smart-app sandbox`: the embedded default — a local EHR (FHIR server + SMART authorization server) with seeded
patients, and the app registered with it. `make run` calls this.

Fixed default ports make the printed URLs stable between runs; a port that is taken falls back to a free one. The
FHIR server requires a bearer token (as a real EHR does) unless `--open`; for integrators who want to call it from
the command line, a long-lived read/write token is printed (`SMART_APP_FHIR_TOKEN`, which `smart-app check`,
`smart-app order` and `smart-app seed` read: read, create and update on every type). Everything runs on loopback only.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from smart_app import create_app
from smart_app.cli.payer import payer_settings
from smart_app.config import DEFAULTS
from smart_app.sandbox.auth import AuthServerHandle, ClientRegistration, start_auth_server
from smart_app.sandbox.auth.registration import AuthMethod
from smart_app.sandbox.fhir_server import FhirServerError, FhirServerHandle, start_fhir_server
from smart_app.sandbox.hapi_server import rss_megabytes, start_hapi_server
from smart_app.sandbox.payer import PayerHandle, start_payer_server
from smart_app.sandbox.seed import SeedLoadError, seed_server
from smart_app.web.server import make_app_server

HOST = "127.0.0.1"
APP_CLIENT_ID = "spine-auth"
APP_CLIENT_SECRET_BYTES = 24
RESOURCE_SERVER_ID = "sandbox-fhir"
CLI_TOKEN_LIFETIME_SECONDS = 12 * 3600
# Read everything, create and update everything: what `smart-app check`, `order` and `seed` need (no delete).
CLI_TOKEN_SCOPE = "system/*.rs system/*.cu"
# --client-auth (the app's EHRS `client_auth`) → the sandbox registration's token endpoint auth method.
AUTH_METHODS: dict[str, AuthMethod] = {
    "public": "none",
    "client_secret_basic": "client_secret_basic",
    "private_key_jwt": "private_key_jwt",
}


class SandboxStartError(click.ClickException):
    exit_code = 3


@dataclass
class RunningSandbox:
    fhir: FhirServerHandle
    auth: AuthServerHandle
    app_url: str
    patients: list[str]
    cli_token: str | None
    payer_url: str | None = None
    payer_checks: str = ""

    def summary(self, *, open_server: bool) -> str:
        lines = [
            "spine-auth sandbox is running (loopback only). Press Ctrl+C to stop.",
            "",
            f"  EHR launch page:  {self.auth.ehr_url}",
            f"  App:              {self.app_url}/",
            f"  FHIR base:        {self.fhir.base_url}"
            + ("   (open, no auth)" if open_server else "   (bearer token required)"),
            f"  Authorization:    {self.auth.base_url}/.well-known/smart-configuration",
            f"  Seeded patients:  {len(self.patients)}",
        ]
        if self.payer_url:
            lines.append(f"  Sandbox payer:    {self.payer_url}   (PAS Claim/$submit; staff worklist: EHR page)")
            if self.payer_checks:
                lines.append(f"                    checks submissions: {self.payer_checks}")
        if self.cli_token:
            lines += [
                "",
                "  For the command line (read/write, 12 hours):",
                f"    export SMART_APP_FHIR_TOKEN={self.cli_token}",
                f"    {command_name()} check --fhir-base {self.fhir.base_url} --patient <id> --procedure … --levels …",
            ]
        return "\n".join(lines)


def command_name() -> str:
    """How the user can call smart-app from here: the bare name when it is on PATH, else the path they ran."""
    if shutil.which("smart-app"):
        return "smart-app"
    ran = Path(sys.argv[0])
    if ran.name == "smart-app":
        with contextlib.suppress(ValueError):
            return str(ran.resolve().relative_to(Path.cwd()))
        return str(ran)
    return "smart-app"


def port_or_free(port: int) -> int:
    """`port` when it can be bound on loopback now, else a free port (0 always picks a free one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def app_settings(
    fhir: FhirServerHandle, auth: AuthServerHandle, *, instance: Path, client_auth: str, client_secret: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "sandbox",
        "title": "Sandbox EHR (local)",
        "iss": fhir.base_url,
        "client_id": APP_CLIENT_ID,
        "client_auth": client_auth,
        "ehr_origins": [auth.base_url],
    }
    if client_secret:
        entry["client_secret"] = client_secret
    return {"INSTANCE_PATH": str(instance), "EHRS": [entry, *DEFAULTS["EHRS"]]}


def register_app(
    auth: AuthServerHandle, app_url: str, *, client_id: str, client_auth: str, client_secret: str | None, name: str
) -> None:
    """Register the app served at `app_url` with the sandbox authorization server: its callback, its launch page
    and, for private_key_jwt, its JWKS URL."""
    auth.register_client(
        ClientRegistration(
            client_id=client_id,
            redirect_uris=[f"{app_url}/callback"],
            launch_uri=f"{app_url}/launch.html",
            auth_method=AUTH_METHODS[client_auth],
            client_secret=client_secret,
            jwks_uri=f"{app_url}/.well-known/jwks.json" if client_auth == "private_key_jwt" else None,
            name=name,
        )
    )


def open_settings(fhir: FhirServerHandle, *, instance: Path) -> dict[str, Any]:
    entry = {"name": "sandbox-open", "title": "Sandbox FHIR server (open)", "iss": fhir.base_url, "open": True}
    return {"INSTANCE_PATH": str(instance), "EHRS": [entry, *DEFAULTS["EHRS"]]}


@click.command(name="sandbox")
@click.option("--app-port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--auth-port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--fhir-port", default=8002, show_default=True, type=click.IntRange(0, 65535))
@click.option("--payer-port", default=8003, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--client-auth",
    type=click.Choice(list(AUTH_METHODS)),
    default="public",
    show_default=True,
    help="How the app authenticates to the sandbox authorization server.",
)
@click.option("--open", "open_server", is_flag=True, help="Run the FHIR server without auth (open-server mode).")
@click.option("--no-seed", is_flag=True, help="Start with an empty FHIR server.")
@click.option(
    "--engine",
    type=click.Choice(["node", "hapi"]),
    default="node",
    show_default=True,
    help="The FHIR server: our Node sandbox (Medplum's engine) or HAPI FHIR's JPA server (`make hapi-jar` builds it).",
)
@click.option(
    "--hapi-igs",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="With --engine hapi: a folder of IG packages (*.tgz) to install from file for $validate.",
)
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance"),
    show_default=True,
    help="Folder for the app's database and generated keys.",
)
def sandbox(
    app_port: int,
    auth_port: int,
    fhir_port: int,
    payer_port: int,
    client_auth: str,
    open_server: bool,
    no_seed: bool,
    engine: str,
    hapi_igs: Path | None,
    instance: Path,
) -> None:
    """Start the sandbox EHR and the app with seeded patients; print the launch page URL."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ports = {name: port_or_free(port) for name, port in (("app", app_port), ("auth", auth_port), ("fhir", fhir_port))}
    payer = start_payer_server(port=port_or_free(payer_port))  # the sandbox payer (PAS) beside the EHR
    introspection_secret = secrets.token_urlsafe(24)
    started = time.monotonic()
    auth_base = None if open_server else f"http://{HOST}:{ports['auth']}"
    introspection_client = None if open_server else (RESOURCE_SERVER_ID, introspection_secret)
    try:
        if engine == "hapi":
            click.echo("starting HAPI FHIR (JPA server, H2 in memory); this takes a minute or more …")
            fhir = start_hapi_server(
                port=ports["fhir"],
                auth_base=auth_base,
                introspection_client=introspection_client,
                require_auth=not open_server,
                igs=hapi_igs,
                log_path=instance / "hapi-server.log",
            )
        else:
            fhir = start_fhir_server(
                port=ports["fhir"],
                auth_base=auth_base,
                introspection_client=introspection_client,
                require_auth=not open_server,
                log_path=instance / "fhir-server.log",
            )
    except FhirServerError as error:
        payer.stop()
        raise SandboxStartError(f"sandbox FHIR server did not start: {error}") from error
    auth = start_auth_server(
        port=ports["auth"], fhir_base=fhir.base_url, resource_servers={RESOURCE_SERVER_ID: introspection_secret}
    )
    try:
        running = _start_rest(fhir, auth, ports["app"], client_auth, open_server, no_seed, instance, payer)
    except BaseException:
        payer.stop()
        auth.stop()
        fhir.stop()
        raise
    click.echo(running[0].summary(open_server=open_server))
    click.echo(f"\n  (started in {time.monotonic() - started:.1f} s)")
    click.echo(f"  FHIR engine: {engine}, up in {fhir.startup_seconds:.1f} s, {_memory(fhir)}")
    sys.stdout.flush()
    server = running[1]
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill`, `timeout`, a supervisor: stop as cleanly as Ctrl+C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        payer.stop()
        auth.stop()
        fhir.stop()


def _memory(fhir: FhirServerHandle) -> str:
    rss = rss_megabytes(fhir.process.pid)
    return "resident memory unknown" if rss is None else f"resident memory {rss:.0f} MiB"


def _stop_on_sigterm(_signal_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _start_rest(
    fhir: FhirServerHandle,
    auth: AuthServerHandle,
    app_port: int,
    client_auth: str,
    open_server: bool,
    no_seed: bool,
    instance: Path,
    payer: PayerHandle | None = None,
) -> tuple[RunningSandbox, Any]:
    seed_token = None if open_server else auth.issue_token("system/*.cruds", lifetime=600)
    patients: list[str] = []
    if not no_seed:
        try:
            patients = seed_server(fhir.base_url, token=seed_token)
        except SeedLoadError as error:
            raise SandboxStartError(f"seeding the sandbox failed: {error}") from error
    client_secret = secrets.token_urlsafe(APP_CLIENT_SECRET_BYTES) if client_auth == "client_secret_basic" else None
    instance.mkdir(parents=True, exist_ok=True)
    if open_server:
        settings = open_settings(fhir, instance=instance.resolve())
    else:
        settings = app_settings(
            fhir, auth, instance=instance.resolve(), client_auth=client_auth, client_secret=client_secret
        )
    if payer is not None:
        settings["PAYERS"] = payer_settings(payer, client_id=APP_CLIENT_ID)
    app = create_app(settings)
    server = make_app_server(app, HOST, app_port)
    app_url = f"http://{HOST}:{server.port}"
    app.config["PUBLIC_URL"] = app_url  # known once bound (a taken port falls back to a free one)
    if payer is not None:
        payer.register_client(APP_CLIENT_ID, jwks_uri=f"{app_url}/.well-known/jwks.json")
    if not open_server:
        register_app(
            auth,
            app_url,
            client_id=APP_CLIENT_ID,
            client_auth=client_auth,
            client_secret=client_secret,
            name="spine-auth",
        )
    cli_token = None if open_server else auth.issue_token(CLI_TOKEN_SCOPE, lifetime=CLI_TOKEN_LIFETIME_SECONDS)
    payer_url = payer.fhir_base if payer is not None else None
    running = RunningSandbox(
        fhir=fhir,
        auth=auth,
        app_url=app_url,
        patients=patients,
        cli_token=cli_token,
        payer_url=payer_url,
        payer_checks=payer.validation if payer is not None else "",
    )
    return running, server
