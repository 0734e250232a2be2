"""`smart-app seed`: load the synthetic seed patients into a FHIR server, or list them.

Exit status: 0 loaded (or listed); 2 bad input (one-line reason on stderr); 3 the server refused a bundle or
could not be reached (the server's OperationOutcome diagnostics on stderr). The token is never printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import urlsplit

import click

from smart_app.cli.fhir_words import FhirProblem, not_a_fhir_server, not_fhir, transport_words, usable_token
from smart_app.sandbox.seed import SeedLoadError, SeedPatient, seed_patients, seed_server

EXIT_BAD_INPUT = 2
EXIT_SERVER = 3


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"smart-app seed: {message}", err=True)
    click.get_current_context().exit(code)
    raise AssertionError("unreachable")  # ctx.exit raises; this keeps type checkers honest


def _valid_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(EXIT_BAD_INPUT, f"--fhir-base must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _selected_patients(only: Sequence[str]) -> list[SeedPatient]:
    try:
        return seed_patients(only or None)
    except KeyError as exc:
        _fail(EXIT_BAD_INPUT, str(exc.args[0]))


def _explain(error: SeedLoadError, base: str, token: str | None) -> tuple[int, str]:
    """The exit status and message for a failed load, in words (not a FHIR server, scope, TLS)."""
    if error.status is None and error.__cause__ is not None:
        return EXIT_SERVER, f"FHIR server at {base} unreachable: {transport_words(error.__cause__)}"
    web_page = bool(error.status and error.diagnostics and "<" in error.diagnostics)
    if (error.status in (404, 405, 501) or web_page) and not_fhir(base, token):
        return EXIT_BAD_INPUT, str(not_a_fhir_server(base))
    if error.status == 403:
        return EXIT_SERVER, (
            f"{error} (the token does not allow loading the seed: it creates and updates resources of every type, "
            "e.g. scope system/*.cu)"
        )
    if error.status == 401:
        need = "a token (--token or SMART_APP_FHIR_TOKEN)" if token is None else "a valid token"
        return EXIT_SERVER, f"{error} (the server requires {need})"
    return EXIT_SERVER, str(error)


def _print_list(patients: Sequence[SeedPatient]) -> None:
    width = max(len(patient.name) for patient in patients)
    for patient in patients:
        click.echo(
            f"{patient.name:<{width}}  {patient.reference}  {patient.pathway}  expect {patient.expected_verdict}"
        )
        click.echo(f"{'':<{width}}  {patient.display_name} ({patient.payer}): {patient.scenario}")
        click.echo(
            f"{'':<{width}}  smart-app check --fhir-base URL --patient {patient.id} {' '.join(patient.cli_args)}"
        )


@click.command(name="seed")
@click.option("--fhir-base", metavar="URL", help="FHIR R4 base URL to load the seed into.")
@click.option(
    "--token",
    metavar="TOKEN",
    envvar="SMART_APP_FHIR_TOKEN",
    help="Bearer token for the FHIR server (default: $SMART_APP_FHIR_TOKEN; none for an open server).",
)
@click.option(
    "--only", metavar="NAME", multiple=True, help="Load only these seed patients (repeatable or comma-separated)."
)
@click.option("--list", "list_only", is_flag=True, help="List the seed patients and the request to try.")
def seed(fhir_base: str | None, token: str | None, only: tuple[str, ...], list_only: bool) -> None:
    """Load the synthetic seed patients (and the sandbox user) into a FHIR server.

    Loading is idempotent: every entry is a PUT with a fixed id, so loading twice changes nothing.
    """
    only = tuple(name.strip() for value in only for name in value.split(",") if name.strip())
    patients = _selected_patients(only)
    if list_only:
        _print_list(patients)
        return
    if not fhir_base:
        _fail(EXIT_BAD_INPUT, "--fhir-base URL is required (or use --list)")
    base = _valid_base(fhir_base)
    try:
        token = usable_token(token, "the token (--token or SMART_APP_FHIR_TOKEN)")
    except FhirProblem as problem:
        _fail(EXIT_BAD_INPUT, str(problem))
    try:
        loaded = seed_server(base, token=token, only=only or None)
    except SeedLoadError as exc:
        code, message = _explain(exc, base, token)
        _fail(code, message)
    names = {patient.id: patient.name for patient in patients}
    for patient_id in loaded:
        click.echo(f"Patient/{patient_id}  {names.get(patient_id, '')}".rstrip())
    click.echo(f"loaded the sandbox user and {len(loaded)} seed patients into {base}")
