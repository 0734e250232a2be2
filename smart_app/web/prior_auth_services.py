"""The worklist's long-lived parts for the current app, built once from its config beside `services()`: the
prior-authorization store and the payer registry; plus who the signed-in user is and the secret a payer's
notifications must carry."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app

from smart_app.payer_registry import PayerRegistry
from smart_app.store.prior_auth_requests import PriorAuthStore
from smart_app.web.launch_context import LaunchContext
from smart_app.web.services import services

EXTENSION_KEY = "spine_auth_prior_auth"


class PriorAuthServices:
    def __init__(self, store: PriorAuthStore, payers: PayerRegistry) -> None:
        self.store = store
        self.payers = payers


def prior_auth() -> PriorAuthServices:
    """The store and payer registry of this app (created at the first use; ConfigError for a bad PAYERS)."""
    found = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        payers = PayerRegistry(current_app.config.get("PAYERS") or [])
        found = PriorAuthServices(PriorAuthStore(services().database, program_of=payers.programs()), payers)
        current_app.extensions[EXTENSION_KEY] = found
    return found


def actor_of(context: LaunchContext) -> str:
    """Who is acting: the EHR user (fhirUser, relative to the EHR's FHIR base when it is on it), else the launch."""
    user = context.fhir_user
    if not user:
        return f"launch {context.launch_id[:8]}"
    base = context.fhir_base.rstrip("/") + "/"
    return user[len(base) :] if user.startswith(base) else user


def notify_secret(payer_name: str) -> str:
    """The bearer secret a payer's notifications must carry (an HMAC of our secret key: nothing to store)."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"payer-notify:{payer_name}".encode(), hashlib.sha256).hexdigest()
