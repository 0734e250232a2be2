"""Blueprint `launch`: home page, `launch.html`, EHR and standalone launch, the OAuth callback, our JWKS.

`/launch?iss=&launch=` (EHR launch) or `/launch?iss=` (standalone): the iss must be registered before anything
touches the network. Then discovery, PKCE S256, a server-side state, and the browser goes to the authorize
endpoint (GET, or an auto-submitting POST form), carrying a short-lived launch cookie bound to the state.
`/callback` accepts only the browser with that cookie (before the state is used up), claims the state once,
exchanges the code, verifies the id_token (required when identity was asked for, unless the EHR's registration
says it issues none), stores the tokens encrypted and sends the browser to `/s/<launch_id>/`, the launch's own
URL space.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from smart_app.config import EhrRegistration, normalize_iss, origin_of
from smart_app.fhir.discovery import DiscoveryError, SmartConfiguration
from smart_app.fhir.id_token import IdTokenError
from smart_app.fhir.oauth import InvalidGrant, TokenEndpointError, build_authorize_request, exchange_code
from smart_app.fhir.pkce import new_pkce_pair
from smart_app.fhir.scopes import LaunchKind, build_scope, choose_syntax
from smart_app.fhir.signing_keys import public_jwks
from smart_app.store.audit import append_event
from smart_app.store.launches import (
    PendingState,
    claim_pending,
    insert_launch,
    insert_pending,
    new_launch_id,
    new_state,
    pending_state,
)
from smart_app.store.tokens import insert_tokens
from smart_app.web.browser_session import (
    bind_launch_to_browser,
    browser_started_launch,
    current_session_hash,
    ensure_session,
    forget_launch_binding,
)
from smart_app.web.errors import AppError
from smart_app.web.identity import verify_identity
from smart_app.web.security import allow_form_action
from smart_app.web.services import services
from smart_app.web.staff_launch import is_staff_launch, staff_scope

logger = logging.getLogger(__name__)
bp = Blueprint("launch", __name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
MAX_PARAM_LENGTH = 4096


@bp.get("/")
def home() -> str:
    return render_template("home.html", registrations=list(services().registry))


@bp.get("/launch.html")
def launch_html() -> WerkzeugResponse:
    """The EHR's launch URL: a static page that forwards `iss` and `launch` to `/launch`."""
    page = Path(current_app.config.get("LAUNCH_HTML_PATH") or PROJECT_ROOT / "launch.html")
    if page.is_file():
        return send_file(page, mimetype="text/html", max_age=0)
    # Installed without the project root: forward on the server side (only these two parameters, to ourselves).
    params = {name: request.args[name] for name in ("iss", "launch") if name in request.args}
    return redirect(url_for("launch.launch") + ("?" + urlencode(params) if params else ""))


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(public_jwks(services().signing_keys))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/launch")
def launch() -> WerkzeugResponse | str:
    iss = _param("iss")
    launch_param = request.args.get("launch") or None
    if not iss:
        raise AppError(
            400,
            "missing-iss",
            "No EHR named",
            "The launch did not say which EHR it came from (no iss).",
            issue_code="required",
        )
    if not _parsable_url(iss):
        raise AppError(
            400,
            "bad-iss",
            "Launch not usable",
            "The launch named its EHR with an address that is not a valid URL (iss).",
            issue_code="invalid",
        )
    app_services = services()
    registration = app_services.registry.by_iss(iss)
    if registration is None:
        with app_services.database.transaction() as db:
            append_event(db, "launch.refused", now=app_services.clock(), detail=f"unregistered iss {origin_of(iss)}")
        raise AppError(
            403,
            "unknown-iss",
            "This EHR is not registered",
            "The app is not registered with the EHR that tried to launch it, so nothing was sent to it. "
            "Ask your administrator to add it to the app's configuration.",
            issue_code="security",
        )
    if registration.open:
        return redirect(url_for("open_server.choose_patient", ehr=registration.name))
    if launch_param is not None and len(launch_param) > MAX_PARAM_LENGTH:
        raise AppError(
            400, "bad-launch", "Launch not usable", "The launch parameter is too long.", issue_code="invalid"
        )
    configuration = _discover(registration)
    return _start_authorization(
        registration,
        configuration,
        aud=iss if launch_param else registration.iss,
        launch_param=launch_param,
        staff=request.args.get("staff") == "1",
    )


def _start_authorization(
    registration: EhrRegistration,
    configuration: SmartConfiguration,
    *,
    aud: str,
    launch_param: str | None,
    staff: bool = False,
) -> WerkzeugResponse | str:
    app_services = services()
    kind: LaunchKind = "ehr" if launch_param else "standalone"
    profile = registration.scope_profile
    syntax = choose_syntax(configuration.capabilities, v1_only="v1_scopes_only" in registration.quirks)
    scope = build_scope(profile, syntax=syntax, launch=kind)
    if staff and not launch_param:
        scope = staff_scope(scope)
    pkce = new_pkce_pair()
    state = new_state()
    nonce = secrets.token_urlsafe(32)
    redirect_uri = callback_url()
    now = app_services.clock()
    try:
        authorize = build_authorize_request(
            configuration,
            registration.oauth_client(app_services.signing_keys),
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_verifier=pkce.verifier,
            aud=aud,
            launch=launch_param,
            nonce=nonce if profile.identity else None,
            prefer_post="authorize_post" in registration.quirks,
        )
    except ValueError as error:
        raise AppError(502, "no-authorize-endpoint", "The EHR cannot authorize this app", str(error)) from error
    # One transaction: the browser session (when new), the state, the audit event. Expired states are purged on
    # the schedule (`web/maintenance.py`), not here.
    with app_services.database.transaction() as db:
        insert_pending(
            db,
            state=state,
            ehr_name=registration.name,
            iss=registration.iss,
            launch_kind=kind,
            code_verifier_enc=app_services.cipher.encrypt(pkce.verifier),
            nonce=nonce,
            redirect_uri=redirect_uri,
            requested_scope=scope,
            session_hash=ensure_session(db),
            created_at=now,
            expires_at=now + float(current_app.config["LAUNCH_STATE_TTL_SECONDS"]),
        )
        append_event(db, "launch.started", now=now, ehr_name=registration.name, detail=f"{kind} launch, {syntax}")
    bind_launch_to_browser(state)
    if authorize.method == "GET":
        return redirect(authorize.url, code=302)
    allow_form_action(origin_of(authorize.url))
    return render_template(
        "authorize_post.html", action=authorize.url, params=authorize.params, registration=registration
    )


def callback_url() -> str:
    """Our redirect URI, built only from `PUBLIC_URL` (never from the request's Host header, which a client
    chooses: a forged Host would send the authorization code elsewhere).

    Raises:
        AppError: 500 when `PUBLIC_URL` is not configured.
    """
    public_url = current_app.config.get("PUBLIC_URL")
    if not public_url:
        logger.error("PUBLIC_URL is not set: no redirect URI can be built, launches are refused")
        raise AppError(
            500,
            "no-public-url",
            "The app is not fully configured",
            "The app does not know its own public address (PUBLIC_URL), so it cannot tell the EHR where to "
            "return after sign-in. Ask your administrator to set it.",
            issue_code="exception",
        )
    return str(public_url).rstrip("/") + url_for("launch.callback")


def _discover(registration: EhrRegistration) -> SmartConfiguration:
    try:
        return services().smart_configuration(registration.iss)
    except DiscoveryError as error:
        logger.warning("discovery failed for EHR %s: %s", registration.name, error.reason)
        raise AppError(
            502,
            "discovery-failed",
            "The EHR could not be reached",
            f"The EHR's SMART configuration could not be read: {error.reason}.",
            issue_code="transient",
        ) from error


def _parsable_url(value: str) -> bool:
    """True when `value` parses as a URL with a host (`http://[::1` does not: urlsplit raises on it)."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return bool(parts.hostname)


def _param(name: str) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_PARAM_LENGTH:
        raise AppError(
            400, f"bad-{name}", "Launch not usable", f"The {name} parameter is too long.", issue_code="invalid"
        )
    return value


_STATE_ERRORS = {
    "unknown": (
        "unknown-state",
        "This sign-in link is not valid",
        "The EHR sent back a sign-in we did not start. Please launch the app again from your EHR.",
    ),
    "used": (
        "state-used",
        "This sign-in was already completed",
        "This sign-in link was already used. Please launch the app again from your EHR.",
    ),
    "expired": (
        "state-expired",
        "The sign-in took too long",
        "The sign-in expired before it was completed. Please launch the app again from your EHR.",
    ),
}


@bp.get("/callback")
def callback() -> WerkzeugResponse:
    app_services = services()
    now = app_services.clock()
    state = _param("state")
    _refuse_other_browser(state, now)
    with app_services.database.transaction() as db:
        claim = claim_pending(db, state, now=now)
        session_hash = current_session_hash(db)
    if claim.status != "ok" or claim.pending is None:
        code, title, message = _STATE_ERRORS[claim.status]
        raise AppError(400, code, title, message, relaunch=True, issue_code="security")
    forget_launch_binding(state)
    pending = claim.pending
    if pending.session_hash and session_hash and session_hash != pending.session_hash:
        raise AppError(
            403,
            "session-mismatch",
            "This sign-in belongs to another browser session",
            "The sign-in was started in another browser session. Please launch again from your EHR.",
            relaunch=True,
            issue_code="security",
        )
    registration = app_services.registry.by_name(pending.ehr_name)
    if registration is None or normalize_iss(registration.iss) != normalize_iss(pending.iss):
        raise AppError(
            400,
            "issuer-changed",
            "This EHR is no longer registered",
            "The EHR this sign-in started with is no longer registered.",
            issue_code="security",
        )
    _refuse_authorize_error(registration, now)
    code = _param("code")
    if not code:
        raise AppError(
            400,
            "missing-code",
            "The EHR did not complete the sign-in",
            "The EHR returned without an authorization code. Please launch again.",
            relaunch=True,
            issue_code="required",
        )
    configuration = _discover(registration)
    returned_iss = request.args.get("iss")
    if returned_iss and configuration.issuer and returned_iss.rstrip("/") != configuration.issuer.rstrip("/"):
        raise AppError(
            400,
            "issuer-mismatch",
            "The sign-in came back from another server",
            "The authorization response names a different issuer; it was refused.",
            issue_code="security",
        )
    client = registration.oauth_client(app_services.signing_keys)
    try:
        token = exchange_code(
            configuration.token_endpoint,
            client,
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=app_services.cipher.decrypt(pending.code_verifier_enc),
            now=now,
            session=app_services.http,
        )
    except InvalidGrant as error:
        _audit(registration, "launch.failed", "invalid_grant at code exchange")
        raise AppError(
            400,
            "invalid-grant",
            "The EHR did not accept the sign-in",
            "The EHR refused the authorization code (expired or already used). "
            "Please launch the app again from your EHR.",
            relaunch=True,
            issue_code="login",
        ) from error
    except TokenEndpointError as error:
        _audit(registration, "launch.failed", f"token endpoint: {error.error}")
        raise AppError(
            502,
            "token-endpoint-error",
            "The EHR's sign-in service failed",
            f"The EHR's token service answered: {error.error}.",
            issue_code="transient",
        ) from error
    _refuse_missing_identity(registration, pending, token.id_token)
    fhir_user = None
    if token.id_token is not None:
        try:
            fhir_user = verify_identity(configuration, client.client_id, token.id_token, nonce=pending.nonce, now=now)
        except IdTokenError as error:
            _audit(registration, "launch.failed", f"id_token: {error}")
            raise AppError(
                401,
                "id-token-invalid",
                "The EHR's identity token could not be verified",
                "The sign-in was refused because the user's identity could not be verified.",
                relaunch=True,
                issue_code="security",
            ) from error
    patient_id = token.context.get("patient")
    if patient_id is None and is_staff_launch(pending.launch_kind, token.scope or pending.requested_scope):
        launch_id = _store_launch(registration, configuration, token, "", fhir_user, pending, now)
        return redirect(url_for("worklist.worklist", launch_id=launch_id))
    if not isinstance(patient_id, str) or not FHIR_ID.match(patient_id):
        raise AppError(
            400,
            "no-patient-context",
            "No patient selected",
            "The EHR did not say which patient the app is for. Open a patient chart and launch again.",
            relaunch=True,
            issue_code="required",
        )
    launch_id = _store_launch(registration, configuration, token, patient_id, fhir_user, pending, now)
    return redirect(url_for("patient.summary", launch_id=launch_id))


def _refuse_other_browser(state: str, now: float) -> None:
    """Refuse a callback from a browser that did not start this launch (no launch cookie for the state), before
    the state is used up, so the legitimate browser can still complete its sign-in.

    Raises:
        AppError: 403 another browser; 400 when the state is unknown or already used anyway.
    """
    if browser_started_launch(state):
        return
    app_services = services()
    with app_services.database.transaction() as db:
        pending = pending_state(db, state)
        if pending is not None and pending.used_at is None:
            append_event(
                db, "launch.refused", now=now, ehr_name=pending.ehr_name, detail="callback from another browser"
            )
    if pending is None or pending.used_at is not None:
        code, title, message = _STATE_ERRORS["unknown" if pending is None else "used"]
        raise AppError(400, code, title, message, relaunch=True, issue_code="security")
    raise AppError(
        403,
        "launch-other-browser",
        "This sign-in was started in another browser",
        "This sign-in link was opened in a browser that did not start it, so it was refused and nobody was signed "
        "in. Launch the app from your EHR in this browser.",
        relaunch=True,
        issue_code="security",
    )


def _refuse_missing_identity(registration: EhrRegistration, pending: PendingState, id_token: str | None) -> None:
    """Refuse a token response without the id_token that `openid fhirUser` asked for, unless the EHR's
    registration says it never issues one (quirk `no_id_token`; the launch then has no user identity).

    Raises:
        AppError: 401 when the identity is missing.
    """
    requested = set(pending.requested_scope.split())
    if id_token is not None or not {"openid", "fhirUser"} <= requested:
        return
    if "no_id_token" in registration.quirks:
        _audit(registration, "launch.no_identity", "no id_token; the registration says the EHR issues none")
        return
    _audit(registration, "launch.failed", "id_token missing although openid fhirUser was requested")
    raise AppError(
        401,
        "id-token-missing",
        "The EHR did not say who you are",
        "The EHR's sign-in answer did not include the identity token the app asked for, so the sign-in was "
        "refused. Launch again from your EHR; if this keeps happening, tell your administrator.",
        relaunch=True,
        issue_code="security",
    )


def _refuse_authorize_error(registration: EhrRegistration, now: float) -> None:
    error = request.args.get("error")
    if not error:
        return
    error = error[:64]
    _audit(registration, "launch.denied" if error == "access_denied" else "launch.failed", f"authorize: {error}")
    if error == "access_denied":
        raise AppError(
            403,
            "access-denied",
            "Access was not granted",
            "The EHR reports that access was not granted to this app (consent was declined). "
            "Launch again from your EHR if this was a mistake.",
            relaunch=True,
            issue_code="forbidden",
        )
    description = (request.args.get("error_description") or "")[:200]
    raise AppError(
        400,
        f"authorize-{error}",
        "The EHR refused the sign-in",
        f"The EHR answered {error}" + (f": {description}" if description else "."),
        relaunch=True,
        issue_code="login",
    )


def _store_launch(
    registration: EhrRegistration,
    configuration: SmartConfiguration,
    token: Any,
    patient_id: str,
    fhir_user: str | None,
    pending: PendingState,
    now: float,
) -> str:
    """Store the launch, its tokens and its audit event in one transaction (and the browser session, when the
    callback's browser has none)."""
    app_services = services()
    banner = token.context.get("need_patient_banner")
    encounter = token.context.get("encounter")
    launch_id = new_launch_id()
    context = {k: v for k, v in token.context.items() if k not in ("patient", "encounter", "need_patient_banner")}
    with app_services.database.transaction() as db:
        insert_launch(
            db,
            id=launch_id,
            session_hash=ensure_session(db),
            ehr_name=registration.name,
            iss=registration.iss,
            mode="smart",
            patient_id=patient_id,
            encounter_id=encounter if isinstance(encounter, str) and FHIR_ID.match(encounter) else None,
            fhir_user=fhir_user,
            need_patient_banner=banner if isinstance(banner, bool) else True,
            granted_scope=token.scope if token.scope is not None else pending.requested_scope,
            token_endpoint=configuration.token_endpoint,
            context_json=json.dumps(context),
            created_at=now,
        )
        insert_tokens(
            db,
            app_services.cipher,
            launch_id,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=token.expires_at,
            scope=token.scope or pending.requested_scope,
            now=now,
        )
        append_event(
            db,
            "launch.completed",
            now=now,
            launch_id=launch_id,
            ehr_name=registration.name,
            actor=fhir_user,
            detail=f"{pending.launch_kind} launch",
        )
    return launch_id


def _audit(registration: EhrRegistration, event: str, detail: str) -> None:
    app_services = services()
    with app_services.database.transaction() as db:
        append_event(db, event, now=app_services.clock(), ehr_name=registration.name, detail=detail)
