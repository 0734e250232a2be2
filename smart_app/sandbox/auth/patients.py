"""The patients the sandbox EHR shows (launch page, standalone picker), read from the FHIR server with the
authorization server's own system token."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
PAGE_SIZE = 100
MAX_PAGES = 20
TIMEOUT = (5.0, 30.0)
KNOWN_PATIENT_SECONDS = 60.0


class PatientDirectoryError(RuntimeError):
    """The FHIR server could not be asked for its patients (message safe to show; no PHI, no token)."""


@dataclass(frozen=True)
class PatientRow:
    id: str
    name: str
    birth_date: str
    label: str | None = None


class PatientDirectory:
    """Reads patients over one keep-alive session. Patient ids seen on the server (read or listed) are remembered
    for KNOWN_PATIENT_SECONDS, so a burst of EHR launches does not cost a FHIR read each; an id not remembered is
    always asked for, so a patient created after the seed launches at once."""

    def __init__(self, fhir_base: str, token_source: Callable[[], str]) -> None:
        self._fhir_base = fhir_base.rstrip("/")
        self._token_source = token_source
        self._session = requests.Session()
        self._known: dict[str, float] = {}  # patient id -> monotonic time until which it counts as existing
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def list_patients(self) -> list[PatientRow]:
        """Every patient on the server (up to MAX_PAGES pages), sorted by name, with seed scenario labels."""
        labels = seed_labels()
        rows: list[PatientRow] = []
        url: str | None = f"{self._fhir_base}/Patient?_count={PAGE_SIZE}"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            bundle = self._get_json(url)
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") or {}
                if resource.get("resourceType") == "Patient" and resource.get("id"):
                    rows.append(_row(resource, labels))
                    self._remember(str(resource["id"]))
            url = self._next_link(bundle)
        return sorted(rows, key=lambda row: (row.name.lower(), row.id))

    def exists(self, patient_id: str) -> bool:
        if not patient_id or "/" in patient_id:
            return False
        if self._is_known(patient_id):
            return True
        try:
            resource = self._get_json(f"{self._fhir_base}/Patient/{quote(patient_id, safe='')}")
        except PatientDirectoryError:
            return False
        found = resource.get("resourceType") == "Patient" and resource.get("id") == patient_id
        if found:
            self._remember(patient_id)
        return found

    def _is_known(self, patient_id: str) -> bool:
        with self._lock:
            until = self._known.get(patient_id)
            if until is None:
                return False
            if until < time.monotonic():
                del self._known[patient_id]
                return False
            return True

    def _remember(self, patient_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._known) > 10_000:
                self._known = {pid: until for pid, until in self._known.items() if until >= now}
            self._known[patient_id] = now + KNOWN_PATIENT_SECONDS

    def _get_json(self, url: str) -> dict[str, Any]:
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {self._token_source()}"}
        try:
            response = self._session.get(url, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise PatientDirectoryError(f"The FHIR server at {self._fhir_base} is not reachable.") from error
        if response.status_code != 200:
            raise PatientDirectoryError(f"The FHIR server answered HTTP {response.status_code}.")
        try:
            body = response.json()
        except ValueError as error:
            raise PatientDirectoryError("The FHIR server did not answer JSON.") from error
        if not isinstance(body, dict):
            raise PatientDirectoryError("The FHIR server did not answer a FHIR resource.")
        return body

    def _next_link(self, bundle: Mapping[str, Any]) -> str | None:
        """Follow `next` verbatim, but only on the FHIR server's own origin (the token goes with it)."""
        for link in bundle.get("link") or []:
            if link.get("relation") == "next" and isinstance(link.get("url"), str):
                url: str = link["url"]
                if urlsplit(url).netloc == urlsplit(self._fhir_base).netloc:
                    return url
                log.warning("Ignoring a next link to another origin")
        return None


def _row(resource: Mapping[str, Any], labels: Mapping[str, str]) -> PatientRow:
    patient_id = str(resource["id"])
    return PatientRow(
        patient_id, display_name(resource.get("name")), str(resource.get("birthDate") or ""), labels.get(patient_id)
    )


def display_name(names: Any) -> str:
    """`text`, else given names and family, of the official (else first) HumanName."""
    if not isinstance(names, list) or not names:
        return "(no name)"
    chosen = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(chosen, dict):
        return "(no name)"
    if chosen.get("text"):
        return str(chosen["text"])
    parts = [*(chosen.get("given") or []), chosen.get("family") or ""]
    return " ".join(str(part) for part in parts if part) or "(no name)"


def seed_labels() -> dict[str, str]:
    """Scenario labels from `smart_app.sandbox.seed.seed_patients()` when that module exists (imported lazily, so
    the auth server works without it)."""
    try:
        seed = importlib.import_module("smart_app.sandbox.seed")
        described: Iterable[Any] = seed.seed_patients()
        return {pid: label for pid, label in (_label(item) for item in described) if pid and label}
    except (ImportError, AttributeError, TypeError) as error:
        log.debug("No seed labels: %s", type(error).__name__)
        return {}


def _label(item: Any) -> tuple[str | None, str | None]:
    def get(name: str) -> Any:
        return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)

    label = get("label") or get("scenario") or get("pathway") or get("title")
    verdict = get("expected_verdict")
    if label and verdict:
        label = f"{label} (expected: {verdict})"
    patient_id = get("id") or get("patient_id")
    return (str(patient_id) if patient_id else None, str(label) if label else None)
