"""Reading searchset Bundles: their entries, their `next` link, and whether that link may be followed.

A `next` link is followed verbatim (HAPI's point at the server base with `_getpages=`, the sandbox's carry
`_offset`), but only when it has the same origin (scheme, host, port) as the FHIR base: the bearer token must
never leave that origin (SMART App Launch, "Access FHIR API").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; host compared case-insensitively."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, base_url: str) -> bool:
    """True when `url` has the scheme, host and port of `base_url`."""
    origin = origin_of(url)
    return bool(origin[1]) and origin == origin_of(base_url)


def next_link(bundle: dict[str, Any], *, base_url: str) -> str | None:
    """The `next` link of a Bundle, relative links resolved against the FHIR base; None on the last page."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url.strip():
                return urljoin(base_url.rstrip("/") + "/", url.strip())
    return None


@dataclass
class PageContent:
    """What one searchset page holds: resources, OperationOutcomes (`search.mode = outcome`), unusable entries.

    `unusable` holds (where, why) pairs such as ("entry 3", "has no resource").
    """

    resources: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)


def read_page(bundle: dict[str, Any]) -> PageContent:
    """Split a searchset page's entries; entries without a JSON-object resource are described in `unusable`."""
    content = PageContent()
    entries = bundle.get("entry")
    if entries is None:
        return content
    if not isinstance(entries, list):
        content.unusable.append(("Bundle.entry", "is not a list"))
        return content
    for position, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            what = "has no resource" if resource is None else "resource is not a JSON object"
            content.unusable.append((f"entry {position}", what))
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode == "outcome" or (mode is None and resource.get("resourceType") == "OperationOutcome"):
            content.outcomes.append(resource)
        else:
            content.resources.append(resource)
    return content


def bundle_total(bundle: dict[str, Any]) -> int | None:
    total = bundle.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None
