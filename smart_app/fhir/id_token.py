"""OpenID Connect id_token verification: signature via the issuer's JWKS, then iss, aud, exp and nonce.

SMART sample apps and client-js decode the id_token without checking it; we record `fhirUser` as the order's
requester and in the audit log, so it must be proven (pitfall B-11). The JWKS is found through smart-configuration's
`jwks_uri` or the issuer's `/.well-known/openid-configuration`, and cached per URL; an unknown `kid` triggers one
refetch (key rotation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smart_app.fhir.ttl_cache import TtlCache

ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384")
JWKS_TIMEOUT = (5.0, 10.0)


class IdTokenError(Exception):
    """The id_token is missing, malformed, badly signed, or its claims do not match this launch."""


@dataclass(frozen=True)
class VerifiedIdentity:
    """The verified claims of an id_token; `fhir_user` is the FHIR resource URL of the signed-in user, if sent."""

    issuer: str
    subject: str
    fhir_user: str | None
    claims: Mapping[str, Any] = field(default_factory=dict)


def unverified_issuer(id_token: str) -> str:
    """The `iss` claim before verification, to find the issuer's keys (only ever compared to what we expect).

    Raises:
        IdTokenError: not a compact JWS with a JSON payload carrying a string `iss`.
    """
    try:
        claims = json.loads(jws.extract_compact(id_token.encode()).payload)
    except (JoseError, ValueError) as error:
        raise IdTokenError("id_token is not a well-formed JWT") from error
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise IdTokenError("id_token has no issuer")
    return issuer


def verify_id_token(
    id_token: str,
    *,
    jwks: KeySet,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: int,
    leeway: int = 60,
) -> VerifiedIdentity:
    """Check the signature against `jwks` and the iss, aud (and azp), exp, iat and nonce claims.

    Raises:
        IdTokenError: any check fails; the message says which, never the token itself.
    """
    try:
        token = jwt.decode(id_token, jwks, algorithms=list(ID_TOKEN_ALGORITHMS))
    except JoseError as error:
        raise IdTokenError(f"id_token signature not valid ({error.error})") from error
    except ValueError as error:
        raise IdTokenError("id_token is not a well-formed JWT") from error
    claims = token.claims
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "sub": {"essential": True},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    registry = jwt.JWTClaimsRegistry(now=now, leeway=leeway, **options)
    try:
        registry.validate(claims)
    except JoseError as error:
        raise IdTokenError(f"id_token claim check failed: {error.error} {error.description or ''}".strip()) from error
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("id_token has several audiences and azp is not our client id")
    fhir_user = claims.get("fhirUser")
    return VerifiedIdentity(
        issuer=claims["iss"],
        subject=claims["sub"],
        fhir_user=fhir_user if isinstance(fhir_user, str) and fhir_user else None,
        claims=dict(claims),
    )


def fetch_jwks(jwks_uri: str, *, session: requests.Session, timeout: tuple[float, float] = JWKS_TIMEOUT) -> KeySet:
    """GET and import a JWK Set.

    Raises:
        IdTokenError: unreachable, not 200, or not a JWK Set.
    """
    try:
        response = session.get(jwks_uri, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as error:
        raise IdTokenError(f"issuer keys unreachable ({type(error).__name__})") from error
    if response.status_code != 200:
        raise IdTokenError(f"issuer keys answered HTTP {response.status_code}")
    try:
        return KeySet.import_key_set(response.json())
    except (ValueError, KeyError, TypeError, JoseError) as error:
        raise IdTokenError("issuer keys are not a JWK Set") from error


def fetch_openid_jwks_uri(
    issuer: str, *, session: requests.Session, timeout: tuple[float, float] = JWKS_TIMEOUT
) -> str:
    """`jwks_uri` from `{issuer}/.well-known/openid-configuration` (the OIDC discovery path SMART points to).

    Raises:
        IdTokenError: unreachable, not JSON, the document names another issuer, or no jwks_uri.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = session.get(url, headers={"Accept": "application/json"}, timeout=timeout)
        document = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as error:
        raise IdTokenError(f"openid-configuration unusable ({type(error).__name__})") from error
    if not isinstance(document, dict):
        raise IdTokenError(f"openid-configuration answered HTTP {response.status_code}")
    if document.get("issuer", issuer).rstrip("/") != issuer.rstrip("/"):
        raise IdTokenError("openid-configuration names another issuer")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise IdTokenError("openid-configuration has no jwks_uri")
    return jwks_uri


class JwksCache(TtlCache[KeySet]):
    """JWK Sets per URL, refetched after `ttl_seconds` or once when a token names a `kid` we do not have."""

    def keys_for(self, jwks_uri: str, kid: str | None) -> KeySet:
        """The keys at `jwks_uri`, fetched again when the cached set lacks `kid` (key rotation)."""
        return self.get(jwks_uri, usable=None if kid is None else lambda keys: _has_kid(keys, kid))


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def unverified_kid(id_token: str) -> str | None:
    """The `kid` header, to pick (or refetch) the issuer's key."""
    try:
        kid = jws.extract_compact(id_token.encode()).protected.get("kid")
    except (JoseError, ValueError):
        return None
    return kid if isinstance(kid, str) else None
