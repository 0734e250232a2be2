"""The sandbox EHR: a page listing the FHIR server's patients with a "Launch" button per registered app, and the
launch itself (a launch context, then a redirect to the app's launch URL with `iss` and `launch`, or the same URL
inside an iframe the way EHRs embed apps)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request

from .context import sandbox
from .patients import PatientDirectoryError
from .records import LaunchContext
from .store import new_secret_value

bp = Blueprint("ehr", __name__)


@bp.get("/")
def home() -> Any:
    return redirect("/ehr", code=302)


@bp.get("/ehr")
def ehr_page() -> Any:
    state = sandbox()
    apps = [app for app in state.store.apps() if app.launch_uri]
    try:
        patients = state.patients.list_patients()
        error = None
    except PatientDirectoryError as failure:
        patients, error = [], str(failure)
    page = render_template(
        "ehr.html", patients=patients, apps=apps, error=error, fhir_base=state.fhir_base, user=state.user.fhir_user
    )
    return page, (502 if error else 200)


@bp.get("/ehr/launch")
def ehr_launch() -> Any:
    state = sandbox()
    client_id = request.args.get("client_id", "")
    patient_id = request.args.get("patient", "")
    encounter_id = request.args.get("encounter") or None
    registration = next((app for app in state.store.apps() if app.client_id == client_id), None)
    if registration is None or not registration.launch_uri:
        message = "Unknown app, or the app has no launch URL registered."
        return render_template("message.html", title="Cannot launch", message=message), 400
    if patient_id and not state.patients.exists(patient_id):  # no patient: a provider (staff) launch
        message = "That patient is not on the FHIR server."
        return render_template("message.html", title="Cannot launch", message=message), 400
    launch = LaunchContext(new_secret_value(), client_id, patient_id, encounter_id, state.user)
    state.store.add_launch(launch)
    separator = "&" if "?" in registration.launch_uri else "?"
    query = urlencode({"iss": state.fhir_base, "launch": launch.launch_id})
    launch_url = f"{registration.launch_uri}{separator}{query}"
    if request.args.get("frame"):
        return render_template("ehr_frame.html", launch_url=launch_url, app=registration, patient_id=patient_id)
    return redirect(launch_url, code=302)
