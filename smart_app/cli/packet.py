"""`smart-app packet`: run the check against a FHIR server, then write the prior-authorization packet zip (PDF,
PAS request Bundle, DTR QuestionnaireResponse, manifest). Same request options as `smart-app order`, plus what
prior-auth staff choose: urgency (with a reason when expedited), place of service, planned date or range, the
rendering facility and initial vs resubmission. `--write-to-ehr` also writes the PDF to the EHR as a
DocumentReference, exactly once (a second run finds it and changes nothing).

Prints `{"check", "packet": {file, open_items, …}, "written", "reason"}` as JSON (or a short text). Exit 2: bad
input; exit 3: the server failed while reading the record. Our practice's NPI/TIN/address: SMART_APP_PRACTICE (JSON).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from smart_app.cli.check import (
    BadInput,
    OneLineErrors,
    parse_as_of,
)
from smart_app.cli.order import REQUEST_OPTIONS, _version, check_online
from smart_app.core.documents import OrderContext
from smart_app.core.packet.model import PLACES_OF_SERVICE, Address, Facility, PacketInputError, PacketOptions, Practice
from smart_app.fhir.client import FhirClient
from smart_app.workflow.packet import build_packet_files, read_parties, write_packet_document

PRACTICE_ENV = "SMART_APP_PRACTICE"


@click.command(name="packet", cls=OneLineErrors, params=list(REQUEST_OPTIONS))
@click.option("--requester", envvar="SMART_APP_FHIR_USER", help="the ordering clinician, e.g. Practitioner/123")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="zip to write (default: ./<name>.zip)"
)
@click.option("--urgency", type=click.Choice(["standard", "expedited"]), default="standard", show_default=True)
@click.option("--urgency-reason", default="", help="why an expedited review is needed (required with expedited)")
@click.option(
    "--place-of-service", type=click.Choice(sorted(PLACES_OF_SERVICE)), help="CMS POS (default: from --setting)"
)
@click.option("--service-date", help="planned date of service, YYYY-MM-DD (default: --as-of)")
@click.option("--service-end", help="end of the planned date range, YYYY-MM-DD")
@click.option("--facility-name", help="rendering facility (default: our practice)")
@click.option("--facility-npi", default="", help="rendering facility NPI")
@click.option("--facility-address", default="", help="rendering facility address, one line")
@click.option("--resubmission", is_flag=True, help="a resubmission, not an initial request")
@click.option(
    "--write-to-ehr", is_flag=True, help="also write the PDF to the EHR as a DocumentReference (exactly once)"
)
def packet(**options: Any) -> None:
    """Check the request, then write the prior-authorization packet (PDF, PAS Bundle, DTR QuestionnaireResponse)."""
    staff = _staff_choices(options, parse_as_of(options["as_of_text"]))  # bad staff choices fail before any read
    checked = check_online(options, "packet")
    fhir_base, token, record, check_result = checked.fhir_base, checked.token, checked.record, checked.result
    client = FhirClient(fhir_base, token_source=(lambda: token) if token else None)
    requester = options["requester"] or None
    patient_ref = str(check_result["patient"]["reference"])
    practitioner, organization = read_parties(client, record.resources, requester, patient_ref)
    created = datetime.now(UTC)
    try:
        files = build_packet_files(
            check_result,
            record.resources,
            staff,
            practice=_practice(),
            created=created,
            practitioner=practitioner,
            organization=organization,
        )
    except PacketInputError as error:
        raise BadInput(str(error)) from None
    out = options["out_path"] or Path(files.file_name)
    out.write_bytes(files.zip_bytes())
    result: dict[str, Any] = {
        "check": check_result,
        "packet": {"file": str(out), "order_key": files.packet.key, "open_items": list(files.packet.open_items)},
        "written": [],
        "reason": None,
    }
    if options["write_to_ehr"]:
        context = OrderContext(
            recorded=created,
            resources=record.resources,
            requester=requester,
            organization=f"Organization/{organization['id']}" if organization and organization.get("id") else None,
            app_version=_version(),
        )
        outcome = write_packet_document(client, files, context)
        result["written"], result["reason"] = outcome.written, outcome.reason
        result["diagnostics"] = outcome.diagnostics or None
    fmt = options["output_format"] or ("text" if sys.stdout.isatty() else "json")
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"Prior-auth packet written to {out} (verdict {check_result['verdict']}).")
    for item in files.packet.open_items:
        click.echo(f"  open item: {item}")
    for item in result["written"]:
        click.echo(f"  {item['action']:<9} {item['reference']}")
    if result["reason"]:
        click.echo(f"Not written to the EHR: {result['reason']}")


def _staff_choices(options: dict[str, Any], as_of: date) -> PacketOptions:
    try:
        start = date.fromisoformat(options["service_date"]) if options["service_date"] else as_of
        end = date.fromisoformat(options["service_end"]) if options["service_end"] else None
    except ValueError:
        raise BadInput("--service-date and --service-end must be dates as YYYY-MM-DD") from None
    facility = None
    if options["facility_name"]:
        facility = Facility(
            name=options["facility_name"],
            npi=options["facility_npi"],
            address=Address(lines=(options["facility_address"],) if options["facility_address"] else ()),
        )
    try:
        return PacketOptions(
            service_start=start,
            service_end=end,
            urgency=options["urgency"],
            urgency_reason=options["urgency_reason"],
            place_of_service=options["place_of_service"],
            facility=facility,
            submission="resubmission" if options["resubmission"] else "initial",
        ).validated()
    except PacketInputError as error:
        raise BadInput(str(error)) from None


def _practice() -> Practice:
    raw = os.environ.get(PRACTICE_ENV)
    if not raw:
        return Practice()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise BadInput(f"{PRACTICE_ENV} must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadInput(f"{PRACTICE_ENV} must be a JSON object")
    return Practice.from_mapping(data)
