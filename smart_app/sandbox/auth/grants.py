"""The authlib grants, specialised for SMART App Launch: EHR launch (`launch` + `aud`), standalone launch with a
patient picker, refresh token rotation, and an OpenID Connect id_token with `fhirUser`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, OAuth2Error, grants
from authlib.oidc.core import OpenIDCode

from .records import AuthorizationCodeRecord, GrantContext, LaunchContext, TokenRecord
from .registration import AUTH_METHODS
from .signing import ID_TOKEN_ALG

if TYPE_CHECKING:
    from .state import SandboxState


@dataclass(frozen=True)
class SmartAuthorizeContext:
    """What the authorize request asked for beyond OAuth: an EHR launch, or a standalone patient pick."""

    launch: LaunchContext | None
    needs_patient_pick: bool


def _state(grant: Any) -> SandboxState:
    state: SandboxState = grant.server.sandbox
    return state


class SmartAuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, request: Any, server: Any) -> None:
        super().__init__(request, server)
        self.smart: SmartAuthorizeContext | None = None

    def generate_authorization_code(self) -> str:
        """256 random bits in one call (authlib draws its 48 characters one `SystemRandom.choice` at a time: a
        tenth of the authorize endpoint's CPU)."""
        return secrets.token_urlsafe(32)

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        if self.smart is None:  # authlib validates twice; a launch must be consumed only once
            try:
                self.smart = self._resolve_smart_context()
            except OAuth2Error as error:
                error.redirect_uri = redirect_uri
                raise
        return redirect_uri

    def _resolve_smart_context(self) -> SmartAuthorizeContext:
        state = _state(self)
        data = self.request.payload.data
        aud = data.get("aud")
        if not aud:
            raise InvalidRequestError("Missing 'aud': send the FHIR base URL.")
        if str(aud).rstrip("/") != state.fhir_base:
            raise InvalidRequestError("'aud' is not the FHIR base URL this server protects.")
        scopes = str(self.request.scope or "").split()
        launch_id = data.get("launch")
        if launch_id:
            if "launch" not in scopes:
                raise InvalidScopeError("An EHR launch must request the 'launch' scope.")
            launch = state.store.consume_launch(str(launch_id), self.request.client.get_client_id())
            if launch is None:
                raise InvalidRequestError("The 'launch' value is unknown, expired, already used or for another app.")
            return SmartAuthorizeContext(launch=launch, needs_patient_pick=False)
        if "launch" in scopes:
            raise InvalidRequestError("The 'launch' scope needs the 'launch' parameter the EHR sent.")
        return SmartAuthorizeContext(launch=None, needs_patient_pick="launch/patient" in scopes)

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        record = AuthorizationCodeRecord(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            context=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            nonce=data.get("nonce"),
        )
        _state(self).store.save_code(record)

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCodeRecord | None:
        store = _state(self).store
        record = store.code(code)
        if record is None or record.client_id != client.get_client_id() or record.is_expired():
            return None
        if record.used:
            store.revoke_tokens_from_code(code)
            return None
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCodeRecord) -> None:
        authorization_code.used = True  # kept until it expires, so a replay can be detected

    def authenticate_user(self, authorization_code: AuthorizationCodeRecord) -> GrantContext:
        return authorization_code.context


class SmartRefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh with rotation: every use issues a new refresh token and revokes the one presented."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        state = _state(self)
        record = state.store.by_refresh_token(refresh_token)
        if record is None:
            return None
        if state.switches.reject_refresh:
            record.refresh_revoked = True
            return None
        return record if record.refresh_usable() else None

    def authenticate_user(self, refresh_token: TokenRecord) -> GrantContext:
        return refresh_token.context

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        refresh_token.refresh_revoked = True


class SmartOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """id_token signed RS256 with the server key: `iss`, `aud` = client_id, `sub`, `nonce`, and `fhirUser`."""

    def __init__(self, state: SandboxState) -> None:
        super().__init__(require_nonce=False)
        self._sandbox = state

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def process_token(self, grant: Any, response: Any) -> Any:
        """Add the id_token, unless the `omit_id_token` switch plays an EHR that never issues one."""
        if self._sandbox.switches.omit_id_token:
            _, token, _ = response
            return token
        return super().process_token(grant, response)

    def resolve_client_private_key(self, client: Any) -> Any:
        return self._sandbox.signing.key

    def get_client_algorithm(self, client: Any) -> str:
        return ID_TOKEN_ALG

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": ID_TOKEN_ALG, "kid": self._sandbox.signing.kid, "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        return {"iss": self._sandbox.issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user: GrantContext, scope: str) -> dict[str, Any]:
        sandbox_user = user.user or self._sandbox.user
        return {"sub": sandbox_user.sub, "fhirUser": f"{self._sandbox.fhir_base}/{sandbox_user.fhir_user}"}
