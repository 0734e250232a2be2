"""Verify a launch's id_token against the authorization server's keys and return the user's `fhirUser`.

The issuer we trust is the one smart-configuration names (`issuer`); when it names none, the id_token's own `iss`
is accepted only on the token endpoint's origin, so a forged token cannot point us at someone else's keys.
"""

from __future__ import annotations

from smart_app.config import origin_of
from smart_app.fhir.discovery import SmartConfiguration
from smart_app.fhir.id_token import (
    IdTokenError,
    fetch_openid_jwks_uri,
    unverified_issuer,
    unverified_kid,
    verify_id_token,
)
from smart_app.web.services import services


def verify_identity(
    configuration: SmartConfiguration, client_id: str, id_token: str, *, nonce: str, now: float
) -> str | None:
    """The verified `fhirUser` claim (None when the token has none).

    Raises:
        IdTokenError: untrusted issuer, keys not found, bad signature or claims.
    """
    app_services = services()
    issuer = configuration.issuer
    if issuer is None:
        claimed = unverified_issuer(id_token)
        if origin_of(claimed) != origin_of(configuration.token_endpoint):
            raise IdTokenError("id_token issuer is not the EHR's authorization server")
        issuer = claimed
    jwks_uri = configuration.jwks_uri or fetch_openid_jwks_uri(issuer, session=app_services.http)
    keys = app_services.jwks.keys_for(jwks_uri, unverified_kid(id_token))
    identity = verify_id_token(id_token, jwks=keys, issuer=issuer, client_id=client_id, nonce=nonce, now=int(now))
    return identity.fhir_user
