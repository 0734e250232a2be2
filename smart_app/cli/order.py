"""`smart-app order`: run the check against a FHIR server, then write the draft order to it (../shared/contracts/
CLI.md). Prints `{"check", "written", "kept_locally", "reason"}` (plus `order_key`, `diagnostics`, `notes`).

Running it again with the same request and date writes nothing new. A refused write is kept in the app's database
(`--database`, default `SMART_APP_DATABASE_URL` or `~/.spine-auth/app.db`) and still exits 0 with
`kept_locally: true`. Exit 2: bad input; exit 3: the server failed while reading the record.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from smart_app.cli.check import (
    BadInput,
    OneLineErrors,
    fetch_online,
    format_text,
    parse_as_of,
    read_json_file,
    token_from_environment,
)
from smart_app.cli.check import check as check_command
from smart_app.cli.fhir_words import patient_id_of
from smart_app.core.documents import OrderContext
from smart_app.core.model import CheckRequest, InvalidRequest
from smart_app.fhir.client import FhirClient
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from smart_app.workflow.check import FetchedRecord, run_check
from smart_app.workflow.order import OrderOutcome, save_draft_order

DEFAULT_DATABASE = Path.home() / ".spine-auth" / "app.db"
# The request flags are exactly `smart-app check`'s (the record comes from a server, so no --bundle).
REQUEST_OPTIONS = [param for param in check_command.params if param.name != "bundle_path"]


@click.command(name="order", cls=OneLineErrors, params=list(REQUEST_OPTIONS))
@click.option("--requester", envvar="SMART_APP_FHIR_USER", help="the ordering clinician, e.g. Practitioner/123")
@click.option("--database", envvar="SMART_APP_DATABASE_URL", help="where refused drafts are kept (SQLAlchemy URL)")
def order(**options: Any) -> None:
    """Check the request, then write the draft order (ServiceRequest per CPT line, attachments, Provenance)."""
    checked = check_online(options, "order")
    token, record, check_result = checked.token, checked.record, checked.result
    client = FhirClient(checked.fhir_base, token_source=(lambda: token) if token else None)
    context = OrderContext(
        recorded=datetime.now(UTC),
        resources=record.resources,
        requester=options["requester"] or None,
        app_version=_version(),
    )
    outcome = save_draft_order(client, check_result, context, _store(options["database"]))
    fmt = options["output_format"] or ("text" if sys.stdout.isatty() else "json")
    if fmt == "json":
        click.echo(json.dumps({"check": check_result, **outcome.to_json()}, indent=2, ensure_ascii=False))
    else:
        click.echo(format_text(check_result) + "\n\n" + describe_outcome(outcome))


@dataclass(frozen=True)
class OnlineCheck:
    fhir_base: str
    token: str | None
    record: FetchedRecord
    result: dict[str, Any]


def check_online(options: Mapping[str, Any], command: str) -> OnlineCheck:
    """The request options shared by `order` and `packet`, checked against the record read from the FHIR server
    (bad input: exit 2; a failing server: exit 3, in words)."""
    fhir_base, patient_id = options["fhir_base"], options["patient_id"]
    if not fhir_base or not patient_id:
        raise BadInput(f"smart-app {command} needs --fhir-base URL --patient ID")
    patient_id = patient_id_of(patient_id)
    as_of = parse_as_of(options["as_of_text"])
    answers = read_json_file(options["answers_path"], "answers") if options["answers_path"] else None
    token = token_from_environment()
    try:
        request = CheckRequest.build(
            procedure=options["procedure"],
            levels=options["levels"],
            side=options["side"],
            intent=options["intent"],
            guidance=options["guidance"],
            sedation=options["sedation"],
            technique=options["technique"],
            setting=options["setting"],
            payer=options["payer"] or "medicare",
        )
        record = fetch_online(fhir_base, patient_id, token)
        result = run_check(
            record.resources,
            request,
            as_of=as_of,
            answers=answers,
            skipped=record.skipped,
            unreadable=record.unreadable,
            payer_from_record=options["payer"] is None,
            patient_id=record.patient_id,
        )
    except (InvalidRequest, ValueError) as error:
        raise BadInput(str(error)) from None
    return OnlineCheck(fhir_base, token, record, result)


def describe_outcome(outcome: OrderOutcome) -> str:
    """The order part of the text output: what was written, or why it was kept in the app."""
    lines = []
    if outcome.kept_locally:
        lines.append(f"Draft order NOT written to the EHR: {outcome.reason}")
        if outcome.diagnostics:
            lines.append(f"  the EHR said: {outcome.diagnostics}")
    elif outcome.reason:
        lines.append(outcome.reason)
    else:
        lines.append(f"Draft order {outcome.order_key}:")
    lines.extend(f"  {item['action']:<9} {item['reference']}" for item in outcome.written)
    lines.extend(f"Note: {note}" for note in outcome.notes)
    return "\n".join(lines)


def _store(url: str | None) -> DraftStore:
    if not url:
        DEFAULT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DEFAULT_DATABASE}"
    database = Database(url)
    database.create_all()
    return DraftStore(database)


def _version() -> str:
    try:
        return metadata.version("spine-auth")
    except metadata.PackageNotFoundError:
        return "0"
