"""The sandbox SMART authorization server (authlib, server side): EHR and standalone launch, PKCE S256,
authorization code and refresh token grants, public and confidential clients, id_token, introspection,
revocation, and switches that make it misbehave on purpose for tests."""

from .registration import ClientRegistration
from .server import DEFAULT_FHIR_USER, DEFAULT_RESOURCE_SERVERS, AuthServerHandle, start_auth_server
from .switches import SwitchError, Switches

__all__ = [
    "DEFAULT_FHIR_USER",
    "DEFAULT_RESOURCE_SERVERS",
    "AuthServerHandle",
    "ClientRegistration",
    "SwitchError",
    "Switches",
    "start_auth_server",
]
