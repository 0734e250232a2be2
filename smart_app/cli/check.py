"""`smart-app check`: candidacy and prior-authorization checklist for one request (../shared/contracts/CLI.md).

Offline with `--bundle FILE` (any Bundle type; `--patient` picks one patient of a multi-patient bundle) or online
with `--fhir-base URL --patient ID` (`SMART_APP_FHIR_TOKEN`, when set, is sent as the bearer token). Without
`--payer` the record's Coverage chooses the payer profile, else Medicare. Exit 0 whenever a result was produced,
2 for bad input (one line on stderr, nothing on stdout), 3 when the FHIR server fails.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from smart_app.cli.fhir_words import FhirProblem, explain, patient_id_of, usable_token
from smart_app.core.bundles import InvalidBundle
from smart_app.core.model import (
    GUIDANCES,
    INTENTS,
    PROCEDURES,
    SEDATIONS,
    SETTINGS,
    SIDES,
    TECHNIQUES,
    CheckRequest,
    InvalidRequest,
)
from smart_app.fhir.errors import FhirError
from smart_app.workflow.check import FetchedRecord, check_bundle, fetch_record, run_check

TOKEN_ENV = "SMART_APP_FHIR_TOKEN"
_STATUS_MARKS = {"met": "MET", "not-met": "NOT MET", "unknown": "UNKNOWN", "not-applicable": "N/A"}


class BadInput(click.ClickException):
    """Exit 2 with `Error: <one line>` on stderr."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ServerFailure(click.ClickException):
    """Exit 3: the FHIR server failed; stderr carries its OperationOutcome diagnostics."""

    exit_code = 3


class OneLineErrors(click.Command):
    """Usage errors (missing option, bad choice) become one-line `BadInput` instead of click's usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise BadInput(error.format_message()) from None


@click.command(name="check", cls=OneLineErrors)
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path), help="FHIR Bundle file")
@click.option("--fhir-base", help="FHIR R4 base URL to read the record from")
@click.option("--patient", "patient_id", help="Patient id or Patient/<id> (required with --fhir-base)")
@click.option("--procedure", required=True, type=click.Choice(PROCEDURES))
@click.option("--intent", type=click.Choice(INTENTS))
@click.option("--levels", required=True, help="e.g. L4-L5,L5-S1 (facet) or L5 (pars)")
@click.option("--side", required=True, type=click.Choice(SIDES))
@click.option("--guidance", default="fluoroscopy", show_default=True, type=click.Choice(GUIDANCES))
@click.option("--sedation", default="none", show_default=True, type=click.Choice(SEDATIONS))
@click.option("--technique", type=click.Choice(TECHNIQUES), help="RFA only (default thermal)")
@click.option("--setting", default="physician", show_default=True, type=click.Choice(SETTINGS))
@click.option("--payer", help="payer profile id (default: from the record's Coverage, else medicare)")
@click.option("--answers", "answers_path", type=click.Path(dir_okay=False, path_type=Path), help="attestations")
@click.option("--as-of", "as_of_text", help="planned date of service, YYYY-MM-DD (default today)")
@click.option("--format", "output_format", type=click.Choice(["json", "text"]), help="default: text on a terminal")
def check(
    bundle_path: Path | None,
    fhir_base: str | None,
    patient_id: str | None,
    procedure: str,
    intent: str | None,
    levels: str,
    side: str,
    guidance: str,
    sedation: str,
    technique: str | None,
    setting: str,
    payer: str | None,
    answers_path: Path | None,
    as_of_text: str | None,
    output_format: str | None,
) -> None:
    """Check a facet or pars injection request against the payer's policy and draft its coding."""
    if (bundle_path is None) == (fhir_base is None):
        raise BadInput("give either --bundle FILE or --fhir-base URL --patient ID")
    if fhir_base is not None and not patient_id:
        raise BadInput("--fhir-base needs --patient ID")
    patient_id = patient_id_of(patient_id) if patient_id else None
    as_of = parse_as_of(as_of_text)
    answers = read_json_file(answers_path, "answers") if answers_path else None
    try:
        request = CheckRequest.build(
            procedure=procedure,
            levels=levels,
            side=side,
            intent=intent,
            guidance=guidance,
            sedation=sedation,
            technique=technique,
            setting=setting,
            payer=payer or "medicare",
        )
        options: dict[str, Any] = {"as_of": as_of, "answers": answers, "payer_from_record": payer is None}
        if bundle_path is not None:
            result = check_bundle(read_json_file(bundle_path, "bundle"), request, patient_id=patient_id, **options)
        else:
            result = _check_online(str(fhir_base), str(patient_id), request, options)
    except (InvalidRequest, InvalidBundle) as error:
        raise BadInput(str(error)) from None
    fmt = output_format or ("text" if sys.stdout.isatty() else "json")
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else format_text(result))


def _check_online(fhir_base: str, patient_id: str, request: CheckRequest, options: dict[str, Any]) -> dict[str, Any]:
    record = fetch_online(fhir_base, patient_id, token_from_environment())
    return run_check(
        record.resources,
        request,
        skipped=record.skipped,
        unreadable=record.unreadable,
        patient_id=record.patient_id,
        **options,
    )


def token_from_environment() -> str | None:
    """`SMART_APP_FHIR_TOKEN`, or None; exit 2 when it cannot be sent as a bearer token."""
    try:
        return usable_token(os.environ.get(TOKEN_ENV))
    except FhirProblem as problem:
        raise BadInput(str(problem)) from None


def fetch_online(fhir_base: str, patient_id: str, token: str | None) -> FetchedRecord:
    """The patient's record from the server; a failure becomes exit 2 (bad input) or 3 (the server), in words."""
    try:
        return fetch_record(fhir_base, patient_id, token=token)
    except ValueError as error:
        raise BadInput(str(error)) from None
    except FhirError as error:
        raise click_error(explain(error, fhir_base, patient_id=patient_id, token=token)) from None


def click_error(problem: FhirProblem) -> click.ClickException:
    return BadInput(str(problem)) if problem.bad_input else ServerFailure(str(problem))


def parse_as_of(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--as-of must be a date YYYY-MM-DD; got {text!r}") from None


def read_json_file(path: Path, what: str) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise BadInput(f"cannot read {what} file {str(path)!r}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"{what} file {str(path)!r} is not JSON: {error}") from None


# --- text for a clinician ------------------------------------------------------------------------------------


def format_text(result: dict[str, Any]) -> str:
    """The check result as plain text: verdict first, then each criterion, coding, outlook and warnings."""
    request, policy = result["request"], result["policy"]
    sides = f"{request['side']} " if request["side"] != "bilateral" else "bilateral "
    patient = result["patient"]
    lines = [
        f"{result['verdict'].upper()}  ({result['pathway']})",
        f"{request['procedure']} {request['intent']}, {sides}{', '.join(request['levels'])} ({request['region']}), "
        f"guidance {request['guidance']}, sedation {request['sedation']}",
        f"Patient {patient.get('display', '')} {patient['reference']}",
        f"As of {result['as_of']}; payer {request['payer']}",
        f"Policy {policy['title']} (v{policy['version']})",
        "",
        "Criteria",
    ]
    for criterion in result["criteria"]:
        mark = _STATUS_MARKS.get(criterion["status"], criterion["status"])
        origin = f" [{criterion['origin']}]" if criterion.get("origin") == "attested" else ""
        lines.append(f"  {mark:<8} {criterion['id']:<8} {criterion['text']}{origin}")
        if criterion.get("detail"):
            lines.append(f"{'':19}{criterion['detail']}")
        for evidence in criterion["evidence"][:4]:
            lines.append(f"{'':19}- {evidence['reference']}: {evidence.get('summary', '')}")
        lines.append(f"{'':19}clause: {criterion['source']}")
    lines += ["", "Coding"]
    for line in result["coding"]["lines"]:
        modifiers = "".join(f" -{m}" for m in line["modifiers"])
        levels = ", ".join(line.get("levels", []))
        lines.append(f"  {line['code']}{modifiers} x{line['units']}  {levels}  dx {', '.join(line['diagnoses'])}")
    if not result["coding"]["lines"]:
        lines.append("  (no lines)")
    for alternative in result["coding"].get("alternatives", []):
        lines.append(f"  alternative {alternative.get('code', '')}: {alternative.get('use_when', '')}")
    outlook = result.get("outlook")
    if outlook:
        lines += [
            "",
            f"Outlook  {outlook['expected_success_rate']:.0%} expected success ({outlook['success_definition']})",
        ]
        lines.append(f"  {outlook['basis']}; {outlook['source']}")
    warnings = result["warnings"] + result["coding"]["warnings"]
    if warnings:
        lines += ["", "Warnings"]
        lines += [f"  - {warning['message']}" for warning in warnings]
    skipped = result.get("skipped_resources", [])
    if skipped:
        lines += ["", "Not read"] + [f"  - {item['reference']}: {item['reason']}" for item in skipped]
    return "\n".join(lines)
