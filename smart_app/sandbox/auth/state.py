"""Everything one running sandbox authorization server holds: its URLs, the signed-in user, stores, keys, switches."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from .client_assertion import ClientKeys
from .patients import PatientDirectory
from .records import DEFAULT_ACCESS_TOKEN_LIFETIME, GrantContext, SandboxUser, TokenRecord
from .revocation_notice import RevocationNotifier, notice_url_for
from .signing import SigningKey
from .store import MemoryStore, new_secret_value
from .switches import DEFAULT_SWITCHES, Switches

INTERNAL_CLIENT_ID = "sandbox-ehr"
INTERNAL_SCOPE = "system/*.rs"
INTERNAL_TOKEN_LIFETIME = 300


class SandboxState:
    def __init__(self, *, issuer: str, fhir_base: str, fhir_user: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.fhir_base = fhir_base.rstrip("/")
        self.user = SandboxUser(fhir_user)
        self.store = MemoryStore()
        self.client_keys = ClientKeys()
        self.signing = SigningKey()
        self.patients = PatientDirectory(self.fhir_base, self.internal_token)
        self.revocation_notices = RevocationNotifier(notice_url_for(self.fhir_base))
        self.store.on_access_revoked(self.revocation_notices.notify)
        self._introspections = 0
        self._lock = threading.Lock()
        self._switches = DEFAULT_SWITCHES
        self._internal: TokenRecord | None = None

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    @property
    def token_url(self) -> str:
        return self.url("/token")

    @property
    def fhir_user_url(self) -> str:
        """The user's fhirUser as an absolute URL on the FHIR server."""
        return f"{self.fhir_base}/{self.user.fhir_user}"

    @property
    def introspections(self) -> int:
        """How many introspection requests this server has answered (tests see the FHIR server's cache work)."""
        with self._lock:
            return self._introspections

    def count_introspection(self) -> None:
        with self._lock:
            self._introspections += 1

    def close(self) -> None:
        self.patients.close()
        self.revocation_notices.close()

    # switches

    @property
    def switches(self) -> Switches:
        with self._lock:
            return self._switches

    def update_switches(self, changes: Mapping[str, Any]) -> Switches:
        """Apply `changes` atomically (all or nothing); raises SwitchError on a bad name or value."""
        with self._lock:
            self._switches = self._switches.updated(changes)
            switches = self._switches
        if switches.reject_refresh:
            self.store.revoke_all_refresh_tokens()
        return switches

    def reset_switches(self) -> Switches:
        with self._lock:
            self._switches = DEFAULT_SWITCHES
            return self._switches

    # tokens minted outside the OAuth flow

    def issue_token(
        self, *, scope: str, client_id: str, context: GrantContext, lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    ) -> TokenRecord:
        if lifetime <= 0:
            raise ValueError("lifetime must be a positive number of seconds")
        record = TokenRecord(
            access_token=new_secret_value(), client_id=client_id, scope=scope, context=context, expires_in=lifetime
        )
        self.store.save_token(record)
        return record

    def internal_token(self) -> str:
        """The server's own `system/*.rs` token for listing patients (the FHIR server introspects it as usual)."""
        with self._lock:
            current = self._internal
            if current is None or current.expires_at - time.time() < 60 or current.is_revoked():
                current = self.issue_token(
                    scope=INTERNAL_SCOPE,
                    client_id=INTERNAL_CLIENT_ID,
                    context=GrantContext(user=None),
                    lifetime=INTERNAL_TOKEN_LIFETIME,
                )
                self._internal = current
            return current.access_token
