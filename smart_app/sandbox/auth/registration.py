"""Registered apps and resource servers, and the authlib client models built from them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from .scopes import grantable_scopes

AuthMethod = Literal["none", "client_secret_basic", "private_key_jwt"]
AUTH_METHODS: tuple[str, ...] = ("none", "client_secret_basic", "private_key_jwt")


@dataclass(frozen=True)
class ClientRegistration:
    """An app registered with the sandbox EHR: exact redirect URIs, the launch URL the EHR opens, and how it
    authenticates at the token endpoint (`private_key_jwt` needs `jwks_uri` or an inline `jwks`)."""

    client_id: str
    redirect_uris: Sequence[str]
    launch_uri: str | None = None
    auth_method: AuthMethod = "none"
    client_secret: str | None = None
    jwks_uri: str | None = None
    jwks: Mapping[str, Any] | None = None
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.client_id or any(char.isspace() for char in self.client_id):
            raise ValueError("client_id must be a non-empty string without spaces")
        if isinstance(self.redirect_uris, str) or not self.redirect_uris:
            raise ValueError(f"{self.client_id}: redirect_uris must be a non-empty list of absolute URLs")
        for uri in [*self.redirect_uris, *([self.launch_uri] if self.launch_uri else [])]:
            if not _is_absolute_http_url(uri):
                raise ValueError(f"{self.client_id}: {uri!r} is not an absolute http(s) URL")
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"{self.client_id}: auth_method must be one of {', '.join(AUTH_METHODS)}")
        if (self.auth_method == "client_secret_basic") != bool(self.client_secret):
            raise ValueError(f"{self.client_id}: client_secret is required with, and only with, client_secret_basic")
        has_keys = bool(self.jwks_uri) or bool(self.jwks)
        if (self.auth_method == "private_key_jwt") != has_keys:
            raise ValueError(f"{self.client_id}: jwks_uri or jwks is required with, and only with, private_key_jwt")
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            raise ValueError(f"{self.client_id}: jwks must be a JWK Set ({{'keys': [...]}})")
        if self.jwks_uri and not _is_absolute_http_url(self.jwks_uri):
            raise ValueError(f"{self.client_id}: jwks_uri must be an absolute http(s) URL")

    @property
    def display_name(self) -> str:
        return self.name or self.client_id


def _is_absolute_http_url(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


class AppClient(ClientMixin):  # type: ignore[misc]
    """An app, seen through authlib: authorization code and refresh token grants, PKCE, one auth method."""

    def __init__(self, registration: ClientRegistration) -> None:
        self.registration = registration
        self.client_id = registration.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # SMART requires redirect_uri on every authorize request

    def get_allowed_scope(self, scope: str | None) -> str | None:
        granted = grantable_scopes(scope)
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.registration.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        expected = self.registration.client_secret
        return expected is not None and secrets.compare_digest(expected.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint in ("token", "revocation") and method == self.registration.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class ResourceServerClient(ClientMixin):  # type: ignore[misc]
    """A resource server (the FHIR server): may only introspect, with client_secret_basic."""

    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        self._secret = secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self._secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "introspection" and method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return False
