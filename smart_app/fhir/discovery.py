"""SMART discovery: `{iss}/.well-known/smart-configuration`, relative URLs resolved, cached per issuer.

Callers must have checked `iss` against the registered EHRs first: discovery is a network call to whatever `iss`
names, and an unregistered `iss` must cause none (HL7/smart-app-launch#230).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from smart_app.fhir.ttl_cache import TtlCache

DISCOVERY_TIMEOUT = (5.0, 10.0)
ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "management_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
    "user_access_brand_bundle",
)


class DiscoveryError(Exception):
    """The server's SMART configuration could not be fetched or is unusable."""

    def __init__(self, iss: str, reason: str) -> None:
        super().__init__(f"SMART discovery failed for {iss}: {reason}")
        self.iss = iss
        self.reason = reason


@dataclass(frozen=True)
class SmartConfiguration:
    """The parts of a smart-configuration document the app uses; every endpoint is an absolute URL."""

    iss: str
    token_endpoint: str
    authorization_endpoint: str | None = None
    capabilities: frozenset[str] = frozenset()
    code_challenge_methods_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    issuer: str | None = None
    jwks_uri: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def wants_patient_banner_context(self) -> bool:
        """The server can say whether the app must show a banner (`context-banner`, or its v1 name)."""
        return self.has("context-banner") or self.has("context-passthrough-banner")


def well_known_url(iss: str) -> str:
    return iss.rstrip("/") + "/.well-known/smart-configuration"


def parse_smart_configuration(iss: str, document: object) -> SmartConfiguration:
    """Validate a smart-configuration JSON document and resolve relative endpoint URLs against `iss`.

    Raises:
        DiscoveryError: not a JSON object, no token endpoint, or an endpoint that is not http(s).
    """
    if not isinstance(document, dict):
        raise DiscoveryError(iss, "the smart-configuration is not a JSON object")
    base = iss.rstrip("/") + "/"
    resolved: dict[str, str | None] = {}
    for name in ENDPOINT_FIELDS:
        value = document.get(name)
        if value is None:
            resolved[name] = None
            continue
        if not isinstance(value, str) or not value:
            raise DiscoveryError(iss, f"{name} is not a URL")
        url = urljoin(base, value)
        if urlsplit(url).scheme not in ("http", "https"):
            raise DiscoveryError(iss, f"{name} is not an http(s) URL: {value}")
        resolved[name] = url
    token_endpoint = resolved["token_endpoint"]
    if token_endpoint is None:
        raise DiscoveryError(iss, "token_endpoint is missing")
    issuer = document.get("issuer")
    return SmartConfiguration(
        iss=iss,
        token_endpoint=token_endpoint,
        authorization_endpoint=resolved["authorization_endpoint"],
        capabilities=frozenset(_strings(document.get("capabilities"))),
        code_challenge_methods_supported=_strings(document.get("code_challenge_methods_supported")),
        grant_types_supported=_strings(document.get("grant_types_supported")),
        scopes_supported=_strings(document.get("scopes_supported")),
        token_endpoint_auth_methods_supported=_strings(document.get("token_endpoint_auth_methods_supported")),
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        jwks_uri=resolved["jwks_uri"],
        revocation_endpoint=resolved["revocation_endpoint"],
        introspection_endpoint=resolved["introspection_endpoint"],
        raw=dict(document),
    )


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def fetch_json(url: str, *, session: requests.Session, timeout: tuple[float, float], what: str, iss: str) -> object:
    """GET a JSON document; every failure becomes a `DiscoveryError` naming `what` failed."""
    try:
        response = session.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as error:
        raise DiscoveryError(iss, f"{what} unreachable ({type(error).__name__})") from error
    if response.status_code != 200:
        raise DiscoveryError(iss, f"{what} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as error:
        raise DiscoveryError(iss, f"{what} is not JSON") from error


def fetch_smart_configuration(
    iss: str, *, session: requests.Session, timeout: tuple[float, float] = DISCOVERY_TIMEOUT
) -> SmartConfiguration:
    """GET and parse `{iss}/.well-known/smart-configuration`.

    Raises:
        DiscoveryError: unreachable, not 200, not JSON, or unusable.
    """
    document = fetch_json(well_known_url(iss), session=session, timeout=timeout, what="smart-configuration", iss=iss)
    return parse_smart_configuration(iss, document)


class DiscoveryCache(TtlCache[SmartConfiguration]):
    """Per-issuer cache of smart-configuration documents, safe to share between request threads.

    `fetch(iss)` is called at most once per issuer per `ttl_seconds`; failures are not cached.
    """
