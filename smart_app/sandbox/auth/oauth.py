"""The authlib AuthorizationServer of the sandbox: grants, client authentication, token minting, introspection
(RFC 7662) and revocation (RFC 7009), all backed by the in-memory store."""

from __future__ import annotations

import time
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from .client_assertion import PrivateKeyJwtAuth
from .grants import SmartAuthorizationCodeGrant, SmartOpenIDCode, SmartRefreshTokenGrant
from .pkce import S256CodeChallenge
from .records import DEFAULT_ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, GrantContext, TokenRecord
from .registration import AUTH_METHODS, ResourceServerClient
from .scopes import drop_scopes, wants_refresh_token
from .state import SandboxState
from .store import new_secret_value

STYLE_PATH = "/smart-style.json"


class SandboxAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, state: SandboxState) -> None:
        super().__init__()
        self.sandbox = state
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method(
            "private_key_jwt", PrivateKeyJwtAuth(token_url=state.token_url, store=state.store, keys=state.client_keys)
        )
        self.register_grant(SmartAuthorizationCodeGrant, [S256CodeChallenge(), SmartOpenIDCode(state)])
        self.register_grant(SmartRefreshTokenGrant)
        self.register_endpoint(SandboxIntrospectionEndpoint)
        self.register_endpoint(SandboxRevocationEndpoint)

    def query_client(self, client_id: str) -> Any:
        return self.sandbox.store.client(client_id)

    def _generate_token(
        self,
        grant_type: str,
        client: Any,
        user: GrantContext | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """The SMART token response: the switches decide the granted scopes, the lifetime and the banner flag."""
        switches = self.sandbox.switches
        granted = drop_scopes((scope or "").split(), switches.drop_scopes)
        token: dict[str, Any] = {
            "access_token": new_secret_value(),
            "token_type": "Bearer",
            "expires_in": expires_in or switches.access_token_lifetime or DEFAULT_ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(granted),
        }
        if include_refresh_token and wants_refresh_token(granted):
            token["refresh_token"] = new_secret_value(48)
        if user is not None and user.patient:
            token["patient"] = user.patient
        if user is not None and user.encounter:
            token["encounter"] = user.encounter
        token["need_patient_banner"] = switches.need_patient_banner
        token["smart_style_url"] = self.sandbox.url(STYLE_PATH)
        return token

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        previous: TokenRecord | None = request.refresh_token
        code = request.authorization_code.code if request.authorization_code else None
        record = TokenRecord(
            access_token=token["access_token"],
            client_id=request.client.get_client_id(),
            scope=token["scope"],
            context=request.user,
            expires_in=int(token["expires_in"]),
            refresh_token=token.get("refresh_token"),
            refresh_expires_at=time.time() + REFRESH_TOKEN_LIFETIME if token.get("refresh_token") else None,
            code=code or (previous.code if previous else None),
        )
        self.sandbox.store.save_token(record)


class SandboxIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    """For resource servers only (client_secret_basic). Access tokens are introspected; anything else is
    reported inactive."""

    CLIENT_AUTH_METHODS = ("client_secret_basic",)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        state: SandboxState = self.server.sandbox
        return state.store.by_access_token(token_string)

    def check_permission(self, token: TokenRecord, client: Any, request: Any) -> bool:
        return isinstance(client, ResourceServerClient)

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        state: SandboxState = self.server.sandbox
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "exp": int(token.expires_at),
            "iat": int(token.issued_at),
            "iss": state.issuer,
        }
        context = token.context
        if context.user is not None:
            payload["sub"] = context.user.sub
            payload["fhirUser"] = f"{state.fhir_base}/{context.user.fhir_user}"
        if context.patient:
            payload["patient"] = context.patient
        if context.encounter:
            payload["encounter"] = context.encounter
        return payload


class SandboxRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """Apps revoke their own tokens. Revoking a refresh token also revokes its access token; revoking an access
    token leaves the refresh token usable."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store = self._sandbox().store
        if token_type_hint == "refresh_token":
            return store.by_refresh_token(token_string) or store.by_access_token(token_string)
        return store.by_access_token(token_string) or store.by_refresh_token(token_string)

    def _sandbox(self) -> SandboxState:
        state: SandboxState = self.server.sandbox
        return state

    def revoke_token(self, token: TokenRecord, request: Any) -> None:
        refresh_too = request.form.get("token") == token.refresh_token
        self._sandbox().store.revoke(token, refresh_too=refresh_too)
