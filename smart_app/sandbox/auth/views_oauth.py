"""OAuth endpoints: authorize (GET and POST, with the standalone patient picker), token, introspect, revoke,
discovery documents, the JWKS and the style JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Blueprint, Response, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from .context import oauth_server, sandbox
from .metadata import SMART_STYLE, openid_configuration, smart_configuration
from .oauth import STYLE_PATH
from .patients import PatientDirectoryError
from .records import GrantContext, PendingAuthorization
from .store import new_secret_value

bp = Blueprint("oauth", __name__)


class ParkedOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An authorize request replayed from the server-side copy kept while the user picked a patient."""

    def __init__(self, pending: PendingAuthorization) -> None:
        super().__init__("GET", pending.uri, headers={})
        self.payload = BasicOAuth2Payload(pending.params)
        self._params = pending.params

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return self._params


def _public_json(document: dict[str, Any]) -> Response:
    response = jsonify(document)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/smart-configuration")
def smart_configuration_view() -> Response:
    return _public_json(smart_configuration(sandbox()))


@bp.get("/.well-known/openid-configuration")
def openid_configuration_view() -> Response:
    return _public_json(openid_configuration(sandbox()))


@bp.get("/jwks")
def jwks_view() -> Response:
    return _public_json(sandbox().signing.public_jwks())


@bp.get(STYLE_PATH)
def style_view() -> Response:
    return _public_json(SMART_STYLE)


def _redirect_with(redirect_uri: str, params: dict[str, str | None]) -> WerkzeugResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}", code=302)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    server = oauth_server()
    state = server.sandbox
    try:
        grant = server.get_consent_grant(end_user=state.user)
    except OAuth2Error as error:
        return server.handle_error_response(None, error)
    oauth_state = request.values.get("state")
    forced_error = state.switches.authorize_error
    if forced_error:
        return _redirect_with(grant.redirect_uri, {"error": forced_error, "state": oauth_state})
    smart = grant.smart
    if smart.needs_patient_pick:
        pending = PendingAuthorization(new_secret_value(), {k: request.values[k] for k in request.values}, request.url)
        state.store.park(pending)
        return _picker(pending)
    launch = smart.launch
    context = GrantContext(
        user=launch.user if launch else state.user,
        patient=(launch.patient or None) if launch else None,
        encounter=launch.encounter if launch else None,
    )
    return server.create_authorization_response(grant_user=context, grant=grant)


def _picker(pending: PendingAuthorization, message: str | None = None, status: int = 200) -> Any:
    state = sandbox()
    try:
        patients = state.patients.list_patients()
    except PatientDirectoryError as error:
        return render_template("message.html", title="Patient list unavailable", message=str(error)), 502
    client_id = pending.params.get("client_id", "")
    return (
        render_template(
            "picker.html", patients=patients, pending_id=pending.pending_id, client_id=client_id, message=message
        ),
        status,
    )


@bp.post("/authorize/patient")
def pick_patient() -> Any:
    """The standalone picker's answer: finish the parked authorize request for the chosen patient."""
    server = oauth_server()
    state = server.sandbox
    pending = state.store.unpark(request.form.get("pending", ""))
    if pending is None:
        message = "This patient selection has expired or was already used. Start the launch again from the app."
        return render_template("message.html", title="Selection expired", message=message), 400
    parked = ParkedOAuth2Request(pending)
    redirect_uri = pending.params["redirect_uri"]  # validated against the registration before parking
    if "cancel" in request.form:
        return _redirect_with(redirect_uri, {"error": "access_denied", "state": pending.params.get("state")})
    patient_id = request.form.get("patient", "")
    if not state.patients.exists(patient_id):
        pending.pending_id = new_secret_value()
        state.store.park(pending)
        return _picker(pending, message="Choose one of the listed patients.", status=400)
    try:
        grant = server.get_authorization_grant(parked)
    except OAuth2Error as error:
        return server.handle_error_response(parked, error)
    context = GrantContext(user=state.user, patient=patient_id)
    return server.create_authorization_response(request=parked, grant_user=context, grant=grant)


@bp.post("/token")
def token() -> Any:
    return oauth_server().create_token_response()


@bp.post("/introspect")
def introspect() -> Any:
    sandbox().count_introspection()
    return oauth_server().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Any:
    return oauth_server().create_endpoint_response("revocation")
