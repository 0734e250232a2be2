"""The clinician of a launch by name and NPI, read once from the `fhirUser` Practitioner with the launch's own token
and kept server-side (`store/clinicians.py`). Pages, attestations, the report PDF and the Provenance show this
text, never the fhirUser URL. A user the EHR does not let us read (or a non-clinician) is remembered as unknown.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request

from smart_app.fhir.errors import FhirError
from smart_app.store.clinicians import Clinician, ClinicianStore
from smart_app.web.check_run import clinician_reference
from smart_app.web.errors import AppError
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.services import services
from smart_app.workflow.tokens import RelaunchRequired

logger = logging.getLogger(__name__)

SYSTEM_NPI = "http://hl7.org/fhir/sid/us-npi"
UNKNOWN = Clinician("", "", "")


def clinician_of(context: LaunchContext) -> Clinician:
    """The launch's clinician: kept per launch (it comes with the launch row, `load_launch_context`); only the
    first page of a launch reads the Practitioner from the EHR, once, and keeps it."""
    if context.clinician is not None:
        return context.clinician
    read_in_request: dict[str, Clinician] = g.setdefault("clinicians_read", {})
    clinician = read_in_request.get(context.launch_id)
    if clinician is None:
        clinician = read_in_request[context.launch_id] = _read_clinician(context)
        ClinicianStore(services().database).keep(context.launch_id, clinician)
    return clinician


def _read_clinician(context: LaunchContext) -> Clinician:
    reference = clinician_reference(context)
    if reference is None:
        return UNKNOWN
    kind, _, resource_id = reference.partition("/")
    try:
        resource = context.fhir_client().read(kind, resource_id)
        if kind == "PractitionerRole":
            target = str((resource.get("practitioner") or {}).get("reference") or "")
            if not target.startswith("Practitioner/"):
                return Clinician(reference, "", "")
            resource = context.fhir_client().read("Practitioner", target.partition("/")[2])
    except FhirError as error:
        logger.info(
            "launch %s: the fhirUser's Practitioner could not be read (HTTP %s)", context.launch_id, error.status
        )
        return Clinician(reference, "", "")
    return Clinician(reference, practitioner_name(resource), practitioner_npi(resource))


def practitioner_name(practitioner: dict[str, Any]) -> str:
    """'Dr. Casey Sandoval, MD' from the official (else first) HumanName; '' when it has none."""
    names = [name for name in practitioner.get("name") or [] if isinstance(name, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if isinstance(name.get("text"), str) and name["text"].strip():
        return str(name["text"]).strip()[:200]
    parts = [*_strings(name.get("prefix")), *_strings(name.get("given")), *_strings([name.get("family")])]
    text = " ".join(parts)
    suffixes = _strings(name.get("suffix"))
    if text and suffixes:
        text += ", " + " ".join(suffixes)
    return text[:200]


def practitioner_npi(practitioner: dict[str, Any]) -> str:
    for identifier in practitioner.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == SYSTEM_NPI:
            value = str(identifier.get("value") or "")
            if value.isdigit() and len(value) == 10:
                return value
    return ""


def _strings(values: Any) -> list[str]:
    return [value.strip() for value in values or [] if isinstance(value, str) and value.strip()]


def init_app(app: Flask) -> None:
    """Every page of a launch names its clinician in the header (`launch_clinician`)."""

    @app.context_processor
    def launch_clinician() -> dict[str, str]:
        launch_id = (request.view_args or {}).get("launch_id")
        if not isinstance(launch_id, str):
            return {}
        try:
            if "known_clinician" in g:  # the view has it already, or must not read it (patient.py): use that
                return {"launch_clinician": (g.known_clinician or UNKNOWN).display}
            return {"launch_clinician": clinician_of(load_launch_context(launch_id)).display}
        except (AppError, RelaunchRequired, FhirError):
            return {}  # the page itself says what is wrong with the launch
