"""The context of one launch, for every page under `/s/<launch_id>/` (this one and the checklist, orders, export
pages other blueprints add).

A launch is reachable only from the browser session that completed it: the launch id in the path picks the tab's
patient, the session cookie proves the browser. Two tabs (two launches, two patients) share the cookie but never
a launch id, so their contexts cannot mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g

from smart_app.config import EhrRegistration
from smart_app.fhir.client import FhirClient
from smart_app.fhir.scopes import ScopeCapabilities, capabilities_from_grant
from smart_app.store.clinicians import Clinician
from smart_app.store.launches import LaunchRecord, find_launch
from smart_app.web.browser_session import remember_live_session, session_cookie_hash
from smart_app.web.errors import AppError
from smart_app.web.services import services

# An open server has no authorization: every read and write is up to the server.
OPEN_SERVER_GRANT = "patient/*.cruds"


@dataclass(frozen=True)
class LaunchContext:
    """Who, which patient, which EHR and what the grant allows; never the tokens themselves."""

    launch_id: str
    registration: EhrRegistration
    mode: str  # "smart" or "open"
    patient_id: str
    encounter_id: str | None
    fhir_user: str | None
    need_patient_banner: bool
    granted_scope: str
    capabilities: ScopeCapabilities
    context: dict[str, Any] = field(default_factory=dict)
    clinician: Clinician | None = None  # as kept for this launch (None: not read from the EHR yet)

    @property
    def is_open(self) -> bool:
        return self.mode == "open"

    @property
    def identity_not_issued(self) -> bool:
        """The user's identity was asked for and the EHR gave none (allowed only by the `no_id_token` quirk)."""
        return not self.is_open and self.registration.scope_profile.identity and self.fhir_user is None

    @property
    def fhir_base(self) -> str:
        return self.registration.iss

    def fhir_client(self) -> FhirClient:
        """The FHIR client of this launch for the current request (one connection pool per request, closed when
        the request ends): the bearer token comes from the token service (refreshed as needed); an open server
        gets no Authorization header at all. A person is waiting, so every FHIR call of the request shares one
        deadline (`FHIR_INTERACTIVE_DEADLINE_SECONDS`) and gives up after fewer retries than the command line."""
        clients: dict[str, FhirClient] = g.setdefault("fhir_clients", {})
        client = clients.get(self.launch_id)
        if client is None:
            token_source = None if self.is_open else services().tokens.source(self.launch_id)
            config = current_app.config
            client = clients[self.launch_id] = FhirClient(
                self.fhir_base,
                token_source=token_source,
                retries=int(config["FHIR_INTERACTIVE_RETRIES"]),
                deadline_seconds=float(config["FHIR_INTERACTIVE_DEADLINE_SECONDS"]),
            )
        return client

    @property
    def readable_types(self) -> frozenset[str]:
        return self.capabilities.readable

    @property
    def can_write_orders(self) -> bool:
        return self.capabilities.can_write_orders()


def close_fhir_clients(_error: BaseException | None = None) -> None:
    """Teardown: close the connection pools the request's launches opened."""
    for client in g.pop("fhir_clients", {}).values():
        client.close()


def launch_record(launch_id: str) -> LaunchRecord | None:
    """The launch row for this request (read once per request: the view, the page header and the audit hook all
    ask), with its session's expiry and its clinician, in one query."""
    records: dict[str, LaunchRecord | None] = g.setdefault("launch_records", {})
    if launch_id not in records:
        with services().database.transaction() as db:
            records[launch_id] = find_launch(db, launch_id)
    return records[launch_id]


def load_launch_context(launch_id: str) -> LaunchContext:
    """The launch for this request.

    Raises:
        AppError: 404 unknown launch; 403 the launch belongs to another browser session (or the cookie is gone);
            401 the launch's EHR is no longer registered.
    """
    contexts: dict[str, LaunchContext] = g.setdefault("launch_contexts", {})
    known = contexts.get(launch_id)
    if known is None:
        known = contexts[launch_id] = _checked_context(launch_id)
    return known


def _checked_context(launch_id: str) -> LaunchContext:
    app_services = services()
    launch = launch_record(launch_id)
    if launch is None:
        raise AppError(
            404,
            "unknown-launch",
            "This launch does not exist",
            "This page belongs to a launch the app does not know. Launch the app again from your EHR.",
            relaunch=True,
            issue_code="not-found",
        )
    # The launch's own session row came with the launch: this browser's cookie must be that session, still live.
    session_live = launch.session_expires_at is not None and launch.session_expires_at > app_services.clock()
    if session_live and session_cookie_hash() == launch.session_hash:
        remember_live_session(launch.session_hash)
    else:
        raise AppError(
            403,
            "launch-not-yours",
            "This launch belongs to another browser session",
            "Your browser session does not match this launch (the session may have expired). "
            "Launch the app again from your EHR.",
            relaunch=True,
            issue_code="security",
        )
    registration = app_services.registry.by_name(launch.ehr_name)
    if registration is None:
        raise AppError(
            401,
            "ehr-unregistered",
            "This EHR is no longer registered",
            "The EHR of this launch was removed from the app's configuration.",
            relaunch=True,
            issue_code="security",
        )
    grant = OPEN_SERVER_GRANT if launch.mode == "open" else launch.granted_scope
    capabilities = capabilities_from_grant(
        grant,
        wanted_read=registration.scope_profile.read,
        refresh_token_present=False,
    )
    return LaunchContext(
        launch_id=launch.id,
        registration=registration,
        mode=launch.mode,
        patient_id=launch.patient_id,
        encounter_id=launch.encounter_id,
        fhir_user=launch.fhir_user,
        need_patient_banner=launch.need_patient_banner,
        granted_scope=launch.granted_scope,
        capabilities=capabilities,
        context=launch.context,
        clinician=launch.clinician,
    )
