"""The sandbox payer's HTTP interface (Flask; a separate program, independent of the app).

    GET  /fhir/.well-known/smart-configuration   token endpoint for SMART Backend Services
    POST /auth/token                             client_credentials with a private_key_jwt assertion (RS384/ES384)
    POST /fhir/Claim/$submit                     PAS request Bundle (or Parameters with it) → PAS response Bundle
    POST /fhir/Claim/$inquire                    PAS inquiry Bundle (Claim first, same identifier) → response Bundle
    POST /fhir/Subscription                      a rest-hook Subscription (R4 backport, full-resource)
    GET|POST /admin/switches, POST /admin/reset, GET /admin/stats   for tests (loopback only, never authenticated)

Bad input is answered with a 400 OperationOutcome naming the element; a missing or unknown bearer token with 401.
A submission passes our structural checks (pas.py, fast), then HAPI FHIR's validator against the PAS request Bundle
profile when the payer runs one (profile_check.py; known gaps tolerated): its errors are answered as a 400
OperationOutcome with the validator's FHIRPath expressions, and nothing is recorded. While the validator is still
loading a submission waits for it (bounded); a validator that cannot answer gives 503, never an unchecked decision.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import pas
from .profile_check import profile_issues
from .state import TOKEN_LIFETIME, PayerState, SwitchError
from .validator import ValidatorUnavailable

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS384", "ES384"]
MAX_ASSERTION_LIFETIME = 300


def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


def _outcome(status: int, message: str, *, path: str = "", code: str = "invalid") -> Response:
    return _fhir(pas.operation_outcome([(path, message)], code=code), status)


def create_payer_app(state: PayerState) -> Flask:
    app = Flask("sandbox_payer")

    def authenticated_client() -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return state.client_of(header.removeprefix("Bearer ").strip())

    def client_or_anonymous() -> str | Response:
        client = authenticated_client()
        if client is not None:
            return client
        if state.switches.require_auth:
            response = _outcome(401, "a valid bearer token from the payer's token endpoint is required", code="login")
            response.headers["WWW-Authenticate"] = 'Bearer realm="sandbox-payer"'
            return response
        return "anonymous"

    def request_bundle() -> dict[str, Any] | Response:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and body.get("resourceType") == "Parameters":
            found = [p.get("resource") for p in body.get("parameter", []) if p.get("name") == "resource"]
            body = found[0] if found else None
        if not isinstance(body, dict):
            return _outcome(400, "the body must be a PAS request Bundle in JSON", path="Bundle", code="structure")
        return body

    def validated(bundle: dict[str, Any]) -> Response | None:
        """None when the validator accepts the Bundle (or the payer runs without one), else the answer to send."""
        if state.validator is None:
            return None
        try:
            issues = profile_issues(state.validator, bundle)
        except ValidatorUnavailable as error:
            log.warning("sandbox payer: submission refused, the validator is unavailable: %s", error)
            response = _outcome(503, f"the payer cannot validate submissions right now ({error}); try again",
                                code="transient")  # fmt: skip
            response.headers["Retry-After"] = "5"
            return response
        if issues:
            return _fhir({"resourceType": "OperationOutcome", "issue": issues}, 400)
        return None

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return jsonify(
            {
                "token_endpoint": state.token_url,
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
                "grant_types_supported": ["client_credentials"],
                "scopes_supported": ["system/Claim.c", "system/ClaimResponse.r", "system/Subscription.cru"],
                "capabilities": ["client-confidential-asymmetric"],
            }
        )

    @app.get("/fhir/metadata")
    def metadata() -> Response:
        return _fhir(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
            }
        )

    @app.post("/auth/token")
    def token() -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _token_error("unsupported_grant_type", "only client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return _token_error("invalid_client", "a private_key_jwt client assertion is required", 401)
        client_id = _verify_assertion(state, str(form["client_assertion"]))
        if client_id is None:
            return _token_error("invalid_client", "the client assertion was not accepted", 401)
        return jsonify(
            {
                "access_token": state.issue_token(client_id),
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": form.get("scope", "system/Claim.c"),
            }
        )

    @app.post("/fhir/Claim/$submit")
    def submit() -> Response:
        client = client_or_anonymous()
        if isinstance(client, Response):
            return client
        bundle = request_bundle()
        if isinstance(bundle, Response):
            return bundle
        try:
            claim = pas.claim_of(bundle)
        except pas.InvalidRequest as error:
            return _fhir(pas.operation_outcome(error.issues), 400)
        invalid = validated(bundle)
        if invalid is not None:
            return invalid
        if state.switches.mode == "error":
            return Response(status=500)
        return _fhir(state.submit(client, bundle, claim))

    @app.post("/fhir/Claim/$inquire")
    def inquire() -> Response:
        client = client_or_anonymous()
        if isinstance(client, Response):
            return client
        bundle = request_bundle()
        if isinstance(bundle, Response):
            return bundle
        entries = bundle.get("entry") or []
        claim = (entries[0].get("resource") or {}) if entries and isinstance(entries[0], dict) else {}
        if claim.get("resourceType") != "Claim" or not pas.claim_identifier(claim):
            return _outcome(
                400,
                "the inquiry's first entry must be a Claim with the identifier submitted",
                path="Bundle.entry[0]",
                code="structure",
            )
        with state.lock:
            record = state.claims.get(pas.claim_identifier(claim))
            if record is None or (client != "anonymous" and record.client_id != client):
                return _outcome(
                    404, "no prior authorization with that identifier", path="Claim.identifier", code="not-found"
                )
            return _fhir(record.response)

    @app.post("/fhir/Subscription")
    def subscribe() -> Response:
        client = client_or_anonymous()
        if isinstance(client, Response):
            return client
        body = request.get_json(silent=True)
        channel = body.get("channel") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("resourceType") != "Subscription" or not isinstance(channel, dict):
            return _outcome(400, "a Subscription with a channel is required", path="Subscription", code="structure")
        if channel.get("type") != "rest-hook" or not str(channel.get("endpoint", "")).startswith(
            ("http://", "https://")
        ):
            return _outcome(400, "only rest-hook channels with an http(s) endpoint", path="Subscription.channel")
        stored = state.add_subscription(client, body)
        public = {k: v for k, v in stored.items() if not k.startswith("_")}
        public["channel"] = {k: v for k, v in stored["channel"].items() if k != "header"}  # never echo secrets
        return _fhir(public, 201)

    @app.get("/admin/switches")
    def get_switches() -> Response:
        return jsonify(state.switches.__dict__)

    @app.post("/admin/switches")
    def set_switches() -> Response:
        try:
            with state.lock:
                state.switches.update(request.get_json(force=True) or {})
        except SwitchError as error:
            return jsonify({"error": str(error)}), 400  # type: ignore[return-value]
        return jsonify(state.switches.__dict__)

    @app.post("/admin/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"reset": True})

    @app.get("/admin/stats")
    def stats() -> Response:
        with state.lock:
            return jsonify({**state.stats, "subscriptions": len(state.subscriptions), "claims": len(state.claims)})

    return app


def _token_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _verify_assertion(state: PayerState, assertion: str) -> str | None:
    """The client id of a valid SMART Backend Services assertion (RS384/ES384 with kid, iss = sub = a registered
    client, aud = our token URL, exp at most 5 minutes ahead, jti never seen), else None."""
    try:
        compact = jws.extract_compact(assertion.encode("ascii"))
        header = compact.headers()
        unverified = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    if not isinstance(unverified, dict):
        return None
    client_id = unverified.get("sub")
    if header.get("alg") not in ASSERTION_ALGORITHMS or not header.get("kid") or client_id not in state.clients:
        return None
    try:
        keys = KeySet.import_key_set(_fetch_jwks(state.clients[str(client_id)]))
        token = jwt.decode(assertion, keys, algorithms=ASSERTION_ALGORITHMS)
    except (JoseError, ValueError, KeyError, TypeError):
        return None
    claims = token.claims
    now = time.time()
    exp = claims.get("exp")
    if claims.get("iss") != client_id or claims.get("aud") != state.token_url:
        return None
    if not isinstance(exp, int | float) or exp < now - 30 or exp > now + MAX_ASSERTION_LIFETIME + 30:
        return None
    jti = claims.get("jti")
    with state.lock:
        if not isinstance(jti, str) or jti in state.seen_jti:
            return None
        state.seen_jti[jti] = float(exp)
    return str(client_id)


def _fetch_jwks(uri: str) -> Any:
    import requests

    response = requests.get(uri, timeout=5)
    response.raise_for_status()
    return response.json()
