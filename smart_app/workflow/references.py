"""Every reference in a transaction must resolve: to an entry of the Bundle or to a resource that exists.

Pure (no I/O): `unresolved_references(bundle, existing=…)` lists the references a server would have to reject (or,
if lenient, would store dangling). `workflow.order` runs it before sending and refuses to send when it finds any.

A reference resolves when it is
- `urn:uuid:…` / `urn:oid:…`: the `fullUrl` of an entry of the Bundle;
- `Type/id` (relative, or absolute on the server's own base): an entry of the Bundle that creates or updates that
  resource (`PUT Type/id`, or an entry whose resource carries that type and id), or one of `existing` (resources
  the caller knows the server holds: the record it read, the order resources it found);
- `#id`: a contained resource of the same resource.
Anything else (a conditional reference, another server's URL) cannot be checked here and is listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


@dataclass(frozen=True)
class UnresolvedReference:
    """One reference that points at nothing the transaction or the server is known to hold."""

    entry: str  # the holding entry's fullUrl (or `Type/id`)
    path: str  # where in the resource, e.g. `ServiceRequest.requester`
    reference: str

    def describe(self) -> str:
        return f"{self.path} → {self.reference}"


def relative_reference(reference: str, base_url: str | None = None) -> str | None:
    """`Type/id` for a relative reference or an absolute one on `base_url` (version dropped); None otherwise."""
    if base_url:
        base = base_url.rstrip("/") + "/"
        if reference.startswith(base):
            reference = reference[len(base) :]
    match = _RELATIVE.match(reference)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def references_in(resource: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, reference) for every `Reference.reference` in a resource, contained resources included."""
    yield from _walk(resource, str(resource.get("resourceType", "Resource")))


def unresolved_references(
    bundle: Mapping[str, Any],
    *,
    existing: Collection[str] = (),
    base_url: str | None = None,
) -> list[UnresolvedReference]:
    """The references of a transaction Bundle that resolve neither inside it nor to `existing` (`Type/id`)."""
    entries = [entry for entry in bundle.get("entry", []) if isinstance(entry, Mapping)]
    full_urls = {str(entry["fullUrl"]) for entry in entries if entry.get("fullUrl")}
    in_bundle = {target for entry in entries if (target := _entry_target(entry, base_url))}
    resolvable = in_bundle | set(existing)
    problems: list[UnresolvedReference] = []
    for entry in entries:
        resource = entry.get("resource")
        if not isinstance(resource, Mapping):
            continue
        holder = str(entry.get("fullUrl") or _entry_target(entry, base_url) or resource.get("resourceType"))
        contained = {f"#{item.get('id')}" for item in resource.get("contained", []) if isinstance(item, Mapping)}
        for path, reference in references_in(resource):
            if reference.startswith(("urn:uuid:", "urn:oid:")):
                ok = reference in full_urls
            elif reference.startswith("#"):
                ok = reference == "#" or reference in contained
            else:
                target = relative_reference(reference, base_url)
                ok = target is not None and target in resolvable
            if not ok:
                problems.append(UnresolvedReference(holder, path, reference))
    return problems


def _entry_target(entry: Mapping[str, Any], base_url: str | None) -> str | None:
    """The `Type/id` an entry writes, when it names one (a PUT, or a resource with an id)."""
    request = entry.get("request") or {}
    if str(request.get("method", "")).upper() == "PUT":
        target = relative_reference(str(request.get("url", "")).split("?", 1)[0], base_url)
        if target:
            return target
    resource = entry.get("resource") or {}
    if resource.get("resourceType") and resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield path, reference
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                continue
            child = f"{path}.{key}" if key != "contained" else f"{path}.contained"
            yield from _walk(item, child)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
