"""A FHIR Bundle of any type (collection, transaction, batch, searchset) → the resources of one patient.

Transaction entries may use `urn:uuid:` fullUrls and refer to each other by them; those references are rewritten
to `Type/id` (an entry without an id takes the uuid as its id). The input is never changed: rewritten resources are
new objects that share their unchanged parts with the input. Nested Bundles (a batch-response of searchsets)
are flattened; OperationOutcomes and DELETE entries are left out. Resources that name another patient as their
subject are dropped, so a bundle of several patients yields only the chosen one's record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smart_app.core.fhir_json import as_dict, as_list, as_str

_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PATIENT_LINKS = ("subject", "patient", "beneficiary")
_MAX_NESTING = 4


class InvalidBundle(ValueError):
    """The file is not a usable FHIR Bundle for one patient. The message is one line."""


@dataclass(frozen=True)
class BundleRecord:
    patient_id: str
    resources: list[dict[str, Any]]


def record_from_bundle(bundle: Any, patient_id: str | None = None) -> BundleRecord:
    """The chosen patient's resources, references resolved. Raises InvalidBundle."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = as_str(as_dict(bundle).get("resourceType")) or type(bundle).__name__
        raise InvalidBundle(f"expected a FHIR Bundle, got {kind}")
    if not isinstance(bundle.get("entry", []), list):
        raise InvalidBundle("Bundle.entry is not a list")
    entries = _with_ids(list(_entries(bundle, 0)))
    aliases = {full_url: f"{r['resourceType']}/{r['id']}" for full_url, r in entries if full_url}
    resources = [_rewritten(resource, aliases) for _, resource in entries]
    unique: dict[str, dict[str, Any]] = {}
    for resource in resources:
        unique[f"{resource['resourceType']}/{resource['id']}"] = resource
    resources = list(unique.values())
    patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    if patient_id is None:
        if not patients:
            raise InvalidBundle("the bundle holds no Patient")
        if len(patients) > 1:
            raise InvalidBundle(f"the bundle holds {len(patients)} patients; choose one with --patient")
        patient_id = patients[0]
    elif patient_id not in patients:
        raise InvalidBundle(f"the bundle holds no Patient with id {patient_id!r}")
    own = f"Patient/{patient_id}"
    return BundleRecord(patient_id, [r for r in resources if _belongs_to(r, own)])


def _entries(bundle: dict[str, Any], depth: int) -> Any:
    for entry in as_list(bundle.get("entry")):
        entry = as_dict(entry)
        resource = entry.get("resource")
        method = as_str(as_dict(entry.get("request")).get("method")).upper()
        if not isinstance(resource, dict) or method == "DELETE":
            continue
        resource_type = as_str(resource.get("resourceType"))
        if resource_type == "Bundle" and depth < _MAX_NESTING:
            yield from _entries(resource, depth + 1)
        elif resource_type and resource_type != "OperationOutcome":
            yield as_str(entry.get("fullUrl")), resource


def _with_ids(entries: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Entries whose resource lacks an id get their fullUrl's uuid (or their position) as id, on a copy."""
    result = []
    for position, (full_url, resource) in enumerate(entries):
        if not _ID_RE.match(as_str(resource.get("id"))):
            tail = full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            resource = {**resource, "id": tail if _ID_RE.match(tail) else f"entry-{position}"}
        result.append((full_url, resource))
    return result


def _rewritten(node: Any, aliases: dict[str, str]) -> Any:
    """`node` with every `reference` found in `aliases` replaced; unchanged parts are shared, not copied."""
    if isinstance(node, dict):
        changed: dict[str, Any] | None = None
        reference = node.get("reference")
        if isinstance(reference, str) and reference in aliases:
            changed = {**node, "reference": aliases[reference]}
        for key, value in node.items():
            if isinstance(value, dict | list):
                new = _rewritten(value, aliases)
                if new is not value:
                    changed = changed if changed is not None else dict(node)
                    changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        items = [_rewritten(item, aliases) for item in node]
        return node if all(new is old for new, old in zip(items, node, strict=True)) else items
    return node


def _belongs_to(resource: dict[str, Any], own: str) -> bool:
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}" == own
    for link in _PATIENT_LINKS:
        target = as_str(as_dict(resource.get(link)).get("reference"))
        if target.startswith("Patient/") and target != own:
            return False
    return True
