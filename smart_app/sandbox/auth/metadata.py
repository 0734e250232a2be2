"""Discovery documents: `/.well-known/smart-configuration` (SMART App Launch 2.2) and OpenID Connect's."""

from __future__ import annotations

from typing import Any

from .client_assertion import ASSERTION_ALGORITHMS
from .registration import AUTH_METHODS
from .scopes import SUPPORTED_SCOPES
from .signing import ID_TOKEN_ALG
from .state import SandboxState

CAPABILITIES = (
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner",
    "context-style",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
)
GRANT_TYPES = ("authorization_code", "refresh_token")


def smart_configuration(state: SandboxState) -> dict[str, Any]:
    return {
        "issuer": state.issuer,
        "jwks_uri": state.url("/jwks"),
        "authorization_endpoint": state.url("/authorize"),
        "token_endpoint": state.token_url,
        "introspection_endpoint": state.url("/introspect"),
        "revocation_endpoint": state.url("/revoke"),
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "code_challenge_methods_supported": ["S256"],
        "capabilities": list(CAPABILITIES),
    }


def openid_configuration(state: SandboxState) -> dict[str, Any]:
    return {
        "issuer": state.issuer,
        "authorization_endpoint": state.url("/authorize"),
        "token_endpoint": state.token_url,
        "jwks_uri": state.url("/jwks"),
        "introspection_endpoint": state.url("/introspect"),
        "revocation_endpoint": state.url("/revoke"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
    }


#: The style the EHR hands to apps (`smart_style_url`), after the SMART example.
SMART_STYLE = {
    "color_background": "#f4f6f8",
    "color_error": "#b3261e",
    "color_highlight": "#1f6feb",
    "color_modal_backdrop": "#00000066",
    "color_success": "#1a7f37",
    "color_text": "#1f2328",
    "dim_border_radius": "6px",
    "dim_font_size": "14px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}
