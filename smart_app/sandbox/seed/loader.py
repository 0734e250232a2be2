"""Load the seed into a FHIR server: one POSTed transaction per bundle, the sandbox user's first.

Every entry is a `PUT Type/id`, so loading twice leaves the server in the same state. A refusal stops the
load with a SeedLoadError whose one-line message carries the server's OperationOutcome diagnostics (never
the token).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import requests

from smart_app.sandbox.seed.catalog import seed_bundles

FHIR_JSON = "application/fhir+json"
DEFAULT_TIMEOUT = (5.0, 120.0)
_MAX_DIAGNOSTICS = 600


class SeedLoadError(RuntimeError):
    """The FHIR server refused a seed bundle, answered nonsense, or could not be reached."""

    def __init__(self, message: str, *, bundle: str, status: int | None = None, diagnostics: str | None = None):
        super().__init__(message)
        self.bundle = bundle
        self.status = status
        self.diagnostics = diagnostics


def outcome_diagnostics(body: Any) -> str | None:
    """The issues of an OperationOutcome as one line (`severity: diagnostics @ expression; …`), or None."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    parts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code") or "issue"
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        parts.append(f"{issue.get('severity', 'error')}: {text}" + (f" @ {where}" if where else ""))
    line = " ".join("; ".join(parts).split())
    return line[:_MAX_DIAGNOSTICS] if line else None


def _response_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refused(name: str, response: requests.Response) -> SeedLoadError:
    body = _response_json(response)
    diagnostics = outcome_diagnostics(body)
    if diagnostics is None:
        diagnostics = " ".join(response.text.split())[:200] or response.reason or "no details"
    return SeedLoadError(
        f"FHIR server refused seed bundle {name!r} (HTTP {response.status_code}): {diagnostics}",
        bundle=name,
        status=response.status_code,
        diagnostics=diagnostics,
    )


def _check_transaction_response(name: str, sent: dict[str, Any], body: Any, status: int) -> None:
    if not isinstance(body, dict) or body.get("type") != "transaction-response":
        raise SeedLoadError(
            f"FHIR server answered seed bundle {name!r} with something other than a transaction-response",
            bundle=name,
            status=status,
        )
    entries = body.get("entry") or []
    failed = [
        entry.get("response", {}).get("status", "?")
        for entry in entries
        if not str(entry.get("response", {}).get("status", "")).startswith("2")
    ]
    if len(entries) != len(sent.get("entry", [])) or failed:
        raise SeedLoadError(
            f"FHIR server did not store every entry of seed bundle {name!r} "
            f"({len(entries)} answers for {len(sent.get('entry', []))} entries, failed: {failed[:5]})",
            bundle=name,
            status=status,
        )


def post_transaction(
    fhir_base: str,
    name: str,
    bundle: dict[str, Any],
    *,
    token: str | None = None,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """POST one transaction Bundle to the FHIR base and return the transaction-response Bundle."""
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    http = session or requests.Session()
    try:
        response = http.post(fhir_base.rstrip("/"), data=json.dumps(bundle), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise SeedLoadError(
            f"FHIR server at {fhir_base} unreachable while loading seed bundle {name!r}: {type(exc).__name__}",
            bundle=name,
        ) from exc
    finally:
        if session is None:
            http.close()
    if not response.ok:
        raise _refused(name, response)
    body = _response_json(response)
    _check_transaction_response(name, bundle, body, response.status_code)
    return dict(body)


def patient_ids(bundle: dict[str, Any]) -> list[str]:
    return [
        entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["resource"]["resourceType"] == "Patient"
    ]


def seed_server(
    fhir_base: str,
    *,
    token: str | None = None,
    only: Iterable[str] | None = None,
    session: requests.Session | None = None,
) -> list[str]:
    """Load the sandbox user and every seed patient (or those named in `only`) into the server; return the
    ids of the patients loaded, in load order. Raises SeedLoadError on the first refusal, KeyError for an
    unknown name in `only`."""
    bundles = seed_bundles(only)
    http = session or requests.Session()
    loaded: list[str] = []
    try:
        for name, bundle in bundles:
            post_transaction(fhir_base, name, bundle, token=token, session=http)
            loaded += patient_ids(bundle)
    finally:
        if session is None:
            http.close()
    return loaded
