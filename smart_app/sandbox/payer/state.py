"""The sandbox payer's memory: registered clients, access tokens, test switches, the claims it has answered (by
Claim identifier, so a resubmission gets the same answer and is never decided twice) and the rest-hook
Subscriptions it notifies when a pended claim is decided."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from . import pas
from .validator import PasValidator

log = logging.getLogger(__name__)

MODES = ("auto", "approve", "deny", "pend", "error")
TOKEN_LIFETIME = 300
NOTIFY_ATTEMPTS = 3


class SwitchError(ValueError):
    """An unknown switch or a bad value."""


@dataclass
class Switches:
    """How the payer decides. `auto`: our checklist (rules.yaml); `approve`/`deny`: every item A1/A3 (`deny_reason`
    a key of rules.yaml reasons); `pend`: A4 now, then `then` (approve|deny) after `pend_seconds` with a
    notification; `error`: HTTP 500 without a body (a retryable server error). `require_auth`: bearer tokens."""

    mode: str = "auto"
    pend_seconds: float = 2.0
    then: str = "approve"
    deny_reason: str = "reviewer"
    require_auth: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        defaults = Switches()
        merged = {**self.__dict__}
        for name, value in changes.items():
            if name not in merged:
                raise SwitchError(f"unknown switch {name!r}")
            merged[name] = getattr(defaults, name) if value is None else value
        if merged["mode"] not in MODES:
            raise SwitchError(f"mode must be one of {', '.join(MODES)}")
        if merged["then"] not in ("approve", "deny"):
            raise SwitchError("then must be approve or deny")
        if merged["deny_reason"] not in pas.review_rules()["reasons"]:
            raise SwitchError("deny_reason must be a key of the payer's reasons")
        if not isinstance(merged["pend_seconds"], int | float) or merged["pend_seconds"] < 0:
            raise SwitchError("pend_seconds must be a number ≥ 0")
        self.__dict__.update(merged)


@dataclass
class ClaimRecord:
    client_id: str
    request_bundle: dict[str, Any]
    response: dict[str, Any]
    auth_number: str
    submissions: int = 1


@dataclass
class PayerState:
    base_url: str = ""
    clients: dict[str, str] = field(default_factory=dict)  # client_id → jwks_uri
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token → (client_id, expires)
    seen_jti: dict[str, float] = field(default_factory=dict)
    switches: Switches = field(default_factory=Switches)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: {"submits": 0, "decisions": 0, "notifications": 0})
    lock: threading.RLock = field(default_factory=threading.RLock)
    timers: list[threading.Timer] = field(default_factory=list)
    validator: PasValidator | None = None  # HAPI FHIR's validator; None: structural checks only

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/token"

    def issue_token(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (client_id, time.time() + TOKEN_LIFETIME)
        return token

    def client_of(self, token: str) -> str | None:
        with self.lock:
            found = self.tokens.get(token)
        return found[0] if found and found[1] > time.time() else None

    def submit(self, client_id: str, bundle: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
        """Decide (or re-answer) a claim; schedule the later decision of a pended one."""
        identifier = pas.claim_identifier(claim) or str(bundle["identifier"]["value"])
        now = datetime.now(UTC)
        with self.lock:
            self.stats["submits"] += 1
            known = self.claims.get(identifier)
            if known is not None:
                known.submissions += 1
                return known.response
            switches = Switches(**self.switches.__dict__)
            auth_number = f"SBX-{now:%y%m%d}-{secrets.randbelow(10**6):06d}"
            decisions = self._decide(claim, bundle, switches)
            response = pas.response_bundle(bundle, decisions, auth_number=auth_number, now=now)
            self.claims[identifier] = ClaimRecord(client_id, bundle, response, auth_number)
            self.stats["decisions"] += 1
            if any(decision.code == "A4" for decision in decisions):
                then = switches.then if switches.mode == "pend" else "approve"
                timer = threading.Timer(switches.pend_seconds, self._decide_later, (identifier, then, switches))
                timer.daemon = True
                self.timers.append(timer)
                timer.start()
            return response

    def _decide(self, claim: dict[str, Any], bundle: dict[str, Any], switches: Switches) -> list[pas.ItemDecision]:
        if switches.mode == "approve":
            return pas.uniform(claim, "A1")
        if switches.mode == "deny":
            return pas.uniform(claim, "A3", switches.deny_reason)
        if switches.mode == "pend":
            return pas.uniform(claim, "A4", "no-documentation")
        return pas.review(claim, bundle)

    def _decide_later(self, identifier: str, then: str, switches: Switches) -> None:
        with self.lock:
            record = self.claims.get(identifier)
            if record is None:
                return
            claim = record.request_bundle["entry"][0]["resource"]
            decisions = (
                pas.uniform(claim, "A1") if then == "approve" else pas.uniform(claim, "A3", switches.deny_reason)
            )
            record.response = pas.response_bundle(
                record.request_bundle, decisions, auth_number=record.auth_number, now=datetime.now(UTC)
            )
            self.stats["decisions"] += 1
            targets = [s for s in self.subscriptions.values() if s["_client_id"] == record.client_id]
            response = record.response
        for subscription in targets:
            self._notify(subscription, response)

    def _notify(self, subscription: dict[str, Any], response: dict[str, Any]) -> None:
        with self.lock:
            subscription["_events"] += 1
            body = pas.notification_bundle(subscription, subscription["_events"], response)
        channel = subscription["channel"]
        headers = {"Content-Type": "application/fhir+json"}
        for header in channel.get("header", []):
            name, _, value = str(header).partition(":")
            headers[name.strip()] = value.strip()
        for attempt in range(NOTIFY_ATTEMPTS):
            try:
                answer = requests.post(channel["endpoint"], json=body, headers=headers, timeout=10)
                if answer.status_code < 500:
                    with self.lock:
                        self.stats["notifications"] += 1
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5 * (attempt + 1))
        log.warning("notification to subscription %s failed after %d attempts", subscription["id"], NOTIFY_ATTEMPTS)

    def add_subscription(self, client_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        """Keep a rest-hook Subscription; the same endpoint from the same client is one Subscription."""
        with self.lock:
            endpoint = resource["channel"]["endpoint"]
            for existing in self.subscriptions.values():
                if existing["_client_id"] == client_id and existing["channel"]["endpoint"] == endpoint:
                    existing["channel"] = resource["channel"]
                    return existing
            stored = {**resource, "id": secrets.token_hex(8), "status": "active", "_client_id": client_id, "_events": 0}
            self.subscriptions[stored["id"]] = stored
            return stored

    def reset(self) -> None:
        with self.lock:
            for timer in self.timers:
                timer.cancel()
            self.timers.clear()
            self.claims.clear()
            self.subscriptions.clear()
            self.switches = Switches()
            self.stats.update({"submits": 0, "decisions": 0, "notifications": 0})
