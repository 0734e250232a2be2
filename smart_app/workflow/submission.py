"""Submit a prior-authorization request to its payer's PAS endpoint, and apply what the payer answers.

    result = submit_request(store, request_id, payer, credentials, actor=…, now=…, notify=NotifyChannel(url, header))

What is sent is the PAS Bundle of the packet kept with the request (`store.prior_auth_packets`), changed only as
`pas_send.bundle_to_send` says (the request's claim identifier, no draft tag, the priority chosen at submission).

Never twice: `store.begin_sending` lets one caller at a time send a request that is `ready`; the Bundle and Claim
identifier is the request's fixed business identifier, so a retry after a lost answer (transport error or 5xx,
retried with backoff) is recognised by the payer, which answers with its first decision. A 4xx OperationOutcome
leaves the request `ready` with the payer's words in its history. The ClaimResponse is kept and sets the status:
A1 approved, A2 partially approved, A3 denied (with its reason), A4 pended, A6 modified. A pended request waits
for the payer's rest-hook notification (Subscriptions backport), applied by `apply_notification`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from smart_app.core import prior_auth as lifecycle
from smart_app.fhir.client_assertion import build_client_assertion
from smart_app.fhir.signing_keys import SigningKey
from smart_app.payer_registry import PayerRegistration
from smart_app.store.prior_auth_packets import kept_packet
from smart_app.store.prior_auth_requests import PriorAuthRequest, PriorAuthStore
from smart_app.workflow.pas_send import bundle_to_send

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
REVIEW_ACTION_URL = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE_URL = f"{REVIEW_ACTION_URL}Code"  # PAS 2.2.1's url of the `code` sub-extension
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
SCOPE = "system/Claim.c system/ClaimResponse.r system/Subscription.cru"


class SubmissionError(Exception):
    """The request was not submitted; the message says why in plain words (no PHI)."""


@dataclass(frozen=True)
class NotifyChannel:
    """Where the payer should POST notifications, and the header that proves it is the payer we subscribed."""

    endpoint: str
    header: str


@dataclass(frozen=True)
class SubmissionResult:
    request: PriorAuthRequest
    claim_response: dict[str, Any]
    attempts: int


def payer_token(payer: PayerRegistration, signing_keys: list[SigningKey], http: requests.Session) -> str:
    """An access token from the payer (SMART Backend Services: client_credentials with a private_key_jwt)."""
    token_url = payer.token_url or _discover_token_url(payer, http)
    key = next((k for k in signing_keys if payer.key_id in (None, k.kid)), None)
    if key is None:
        raise SubmissionError(f"no signing key with kid {payer.key_id!r} for payer {payer.name}")
    assertion = build_client_assertion(key, client_id=payer.client_id, token_endpoint=token_url, now=int(time.time()))
    try:
        response = http.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "scope": SCOPE,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
            timeout=15,
        )
    except requests.RequestException as error:
        raise SubmissionError(f"the payer's token endpoint could not be reached ({type(error).__name__})") from error
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        raise SubmissionError(f"the payer refused our credentials: {body.get('error', response.status_code)}")
    return str(body["access_token"])


def _discover_token_url(payer: PayerRegistration, http: requests.Session) -> str:
    try:
        response = http.get(f"{payer.fhir_base}/.well-known/smart-configuration", timeout=10)
        url = _json(response).get("token_endpoint")
    except requests.RequestException as error:
        raise SubmissionError("the payer's SMART configuration could not be read") from error
    if not isinstance(url, str):
        raise SubmissionError("the payer's SMART configuration names no token endpoint")
    return url


def subscribe(payer: PayerRegistration, token: str, channel: NotifyChannel, http: requests.Session) -> None:
    """Ask the payer to notify us (rest-hook, full-resource) when a pended request is decided (PAS §Subscription)."""
    subscription = {
        "resourceType": "Subscription",
        "meta": {
            "profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"]
        },
        "status": "requested",
        "reason": "PAS pended prior-authorization decisions",
        "criteria": "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
        "channel": {
            "type": "rest-hook",
            "endpoint": channel.endpoint,
            "payload": FHIR_JSON,
            "header": [channel.header],
            "_payload": {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content",
                        "valueCode": "full-resource",
                    }
                ]
            },
        },
    }
    try:
        response = http.post(f"{payer.fhir_base}/Subscription", json=subscription, headers=_headers(token), timeout=15)
    except requests.RequestException as error:
        raise SubmissionError("the payer's Subscription endpoint could not be reached") from error
    if response.status_code >= 300:
        raise SubmissionError(f"the payer refused our notification subscription (HTTP {response.status_code})")


def submit_request(
    store: PriorAuthStore,
    request_id: str,
    payer: PayerRegistration,
    signing_keys: list[SigningKey],
    *,
    actor: str,
    clock: Callable[[], float],
    http: requests.Session,
    notify: NotifyChannel | None = None,
    priority: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmissionResult:
    """Send a `ready` request to `payer` once and apply the answer (see the module docstring).

    Raises:
        SubmissionError: not ready, already being sent, the payer refused it or could not be reached.
    """
    if not store.begin_sending(request_id, now=clock()):
        current = store.get(request_id, now=clock())
        raise SubmissionError(
            "this request is being sent already"
            if current.status == lifecycle.READY
            else f"only a request that is ready to submit can be sent (this one is {current.status_label})"
        )
    try:
        if priority is not None:
            store.set_priority(request_id, priority, actor=actor, now=clock())
        request = store.get(request_id, now=clock())
        packet = kept_packet(store.database, request_id)
        if packet is None:
            raise SubmissionError("build the packet first: submission sends the packet's PAS Bundle")
        bundle = bundle_to_send(packet.pas_bundle, request.claim_identifier, request.priority)
        token = payer_token(payer, signing_keys, http)
        if notify is not None and payer.notify:
            subscribe(payer, token, notify, http)
        response_bundle, attempts = _send(payer, token, bundle, http, sleep, store, request_id, actor, clock)
        store.mark_submitted(request_id, actor=actor, now=clock())
        claim_response = claim_response_of(response_bundle)
        updated = apply_claim_response(store, request_id, claim_response, via="submit", now=clock())
        return SubmissionResult(updated, claim_response, attempts)
    finally:
        store.end_sending(request_id)


def _send(
    payer: PayerRegistration,
    token: str,
    bundle: dict[str, Any],
    http: requests.Session,
    sleep: Callable[[float], None],
    store: PriorAuthStore,
    request_id: str,
    actor: str,
    clock: Callable[[], float],
) -> tuple[dict[str, Any], int]:
    url = f"{payer.fhir_base}/Claim/$submit"
    problem = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = http.post(url, json=bundle, headers=_headers(token), timeout=30)
        except requests.RequestException as error:
            problem = f"the payer did not answer ({type(error).__name__})"
        else:
            if response.status_code < 300:
                return _json(response), attempt
            if response.status_code < 500:
                words = _diagnostics(_json(response)) or f"HTTP {response.status_code}"
                store.add_note(request_id, f"the payer refused the submission: {words}", actor=actor, now=clock())
                raise SubmissionError(f"the payer refused the submission: {words}")
            problem = f"the payer failed (HTTP {response.status_code})"
        logger.info("PAS submit attempt %d for request %s: %s", attempt, request_id, problem)
        if attempt < ATTEMPTS:
            sleep(BACKOFF_SECONDS * attempt)
    store.add_note(request_id, f"not submitted: {problem}; sending again is safe", actor=actor, now=clock())
    raise SubmissionError(f"{problem}, {ATTEMPTS} times; sending again is safe (same identifier)")


def claim_response_of(bundle: dict[str, Any]) -> dict[str, Any]:
    """The ClaimResponse of a PAS response Bundle (the first entry)."""
    entries = bundle.get("entry") or [] if isinstance(bundle, dict) else []
    resource = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    if not isinstance(resource, dict) or resource.get("resourceType") != "ClaimResponse":
        raise SubmissionError("the payer's answer is not a PAS response Bundle (no ClaimResponse first)")
    return resource


def review_actions(claim_response: dict[str, Any]) -> list[dict[str, str]]:
    """Per item: the reviewAction `code` (X12 HCR01), `reason` (text or code) and `number`."""
    found = []
    for item in claim_response.get("item") or []:
        for adjudication in item.get("adjudication") or []:
            for extension in adjudication.get("extension") or []:
                if extension.get("url") != REVIEW_ACTION_URL:
                    continue
                parts = {part.get("url"): part for part in extension.get("extension") or []}
                code_part = parts.get(REVIEW_ACTION_CODE_URL) or parts.get("code") or {}
                code = (code_part.get("valueCodeableConcept") or {}).get("coding", [{}])[0]
                reason = (parts.get("reasonCode") or {}).get("valueCodeableConcept") or {}
                found.append(
                    {
                        "code": str(code.get("code", "")),
                        "reason": str(reason.get("text") or (reason.get("coding") or [{}])[0].get("code", "")),
                        "number": str((parts.get("number") or {}).get("valueString", "")),
                    }
                )
    return found


def apply_claim_response(
    store: PriorAuthStore, request_id: str, claim_response: dict[str, Any], *, via: str, now: float
) -> PriorAuthRequest:
    """Keep the ClaimResponse and move the request to the status its review actions give (the payer's move)."""
    store.keep_claim_response(request_id, claim_response, via=via, now=now)
    actions = review_actions(claim_response)
    target = lifecycle.status_of_review_actions([action["code"] for action in actions])
    current = store.get(request_id, now=now)
    if current.status == target:
        return current
    period = claim_response.get("preAuthPeriod") or {}
    reasons = [a["reason"] for a in actions if a["code"] == "A3" and a["reason"]]
    notes = [str(note.get("text", "")) for note in claim_response.get("processNote") or []]
    number = str(claim_response.get("preAuthRef") or next((a["number"] for a in actions if a["number"]), ""))
    return store.transition(
        request_id,
        target,
        actor_kind="payer",
        actor=f"payer ({via})",
        now=now,
        note="; ".join(dict.fromkeys([*(f"{a['code']}" for a in actions)])),
        auth_number=number if target in lifecycle.AUTHORIZED else None,
        auth_period=(period.get("start"), period.get("end")) if target in lifecycle.AUTHORIZED else None,
        denial_reason="; ".join(dict.fromkeys(reasons or notes)) if target == lifecycle.DENIED else None,
    )


def apply_notification(store: PriorAuthStore, notification: Any, *, now: float) -> list[PriorAuthRequest]:
    """Apply a Subscriptions-backport notification Bundle: each PAS response Bundle (or ClaimResponse) inside it
    updates the request whose claim identifier it echoes. Unknown identifiers are ignored (not ours)."""
    if not isinstance(notification, dict) or notification.get("resourceType") != "Bundle":
        raise SubmissionError("a notification must be a Bundle")
    updated = []
    for entry in notification.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Bundle":
            try:
                resource = claim_response_of(resource)
            except SubmissionError:
                continue
        if resource.get("resourceType") != "ClaimResponse":
            continue
        identifier = str(((resource.get("request") or {}).get("identifier") or {}).get("value", ""))
        request = store.by_claim_identifier(identifier, now=now) if identifier else None
        if request is not None:
            updated.append(apply_claim_response(store, request.id, resource, via="notification", now=now))
    return updated


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _diagnostics(outcome: dict[str, Any]) -> str:
    """The OperationOutcome's issues as `element: message`, for staff."""
    words = []
    for issue in outcome.get("issue") or []:
        where = ", ".join(str(path) for path in issue.get("expression") or [])
        words.append(f"{where}: {issue.get('diagnostics', '')}" if where else str(issue.get("diagnostics", "")))
    return "; ".join(words)[:500]
