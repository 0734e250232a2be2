"""What the sandbox authorization server remembers: the user, launch contexts, codes and tokens (in memory)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin

LAUNCH_LIFETIME = 3600
PENDING_LIFETIME = 600
CODE_LIFETIME = 300
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600


@dataclass(frozen=True)
class SandboxUser:
    """The signed-in sandbox user: `fhir_user` is a relative reference such as `Practitioner/123`."""

    fhir_user: str

    @property
    def sub(self) -> str:
        return self.fhir_user.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class GrantContext:
    """Who authorized and for which patient: what authlib calls the grant's `user`, and what tokens carry."""

    user: SandboxUser | None
    patient: str | None = None
    encounter: str | None = None


@dataclass
class LaunchContext:
    """An EHR launch waiting for the app's authorize request (opaque `launch_id`, usable once)."""

    launch_id: str
    client_id: str
    patient: str
    encounter: str | None
    user: SandboxUser
    expires_at: float = field(default_factory=lambda: time.time() + LAUNCH_LIFETIME)
    used: bool = False


@dataclass
class PendingAuthorization:
    """A validated authorize request parked while the user picks a patient (standalone launch)."""

    pending_id: str
    params: dict[str, str]
    uri: str
    expires_at: float = field(default_factory=lambda: time.time() + PENDING_LIFETIME)


@dataclass
class AuthorizationCodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    context: GrantContext
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None = None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    expires_at: float = field(default_factory=lambda: time.time() + CODE_LIFETIME)
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class TokenRecord(TokenMixin):  # type: ignore[misc]
    """An access token and, when offline/online access was granted, its refresh token."""

    access_token: str
    client_id: str
    scope: str
    context: GrantContext
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    code: str | None = None
    access_revoked: bool = False
    refresh_revoked: bool = False

    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires_in

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> GrantContext:
        return self.context

    def refresh_usable(self) -> bool:
        return (
            self.refresh_token is not None
            and not self.refresh_revoked
            and self.refresh_expires_at is not None
            and time.time() < self.refresh_expires_at
        )

    def revoke(self) -> None:
        self.access_revoked = True
        self.refresh_revoked = True
