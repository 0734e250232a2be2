"""Thread-safe in-memory stores: clients, launches, parked authorize requests, codes, tokens, used `jti`s."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from .records import (
    AuthorizationCodeRecord,
    LaunchContext,
    PendingAuthorization,
    TokenRecord,
)
from .registration import AppClient, ClientRegistration, ResourceServerClient

Client = AppClient | ResourceServerClient
PURGE_INTERVAL = 5.0


def new_secret_value(nbytes: int = 32) -> str:
    """An opaque random value (launch ids, codes, tokens)."""
    return secrets.token_urlsafe(nbytes)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._clients: dict[str, Client] = {}
        self._launches: dict[str, LaunchContext] = {}
        self._pending: dict[str, PendingAuthorization] = {}
        self._codes: dict[str, AuthorizationCodeRecord] = {}
        self._access: dict[str, TokenRecord] = {}
        self._refresh: dict[str, TokenRecord] = {}
        self._jtis: dict[tuple[str, str], float] = {}
        self._on_access_revoked: Callable[[list[str]], None] = lambda tokens: None
        self._next_purge = 0.0

    def on_access_revoked(self, listener: Callable[[list[str]], None]) -> None:
        """Call `listener` with the access tokens just revoked (outside the store's lock), e.g. to tell the FHIR
        server, which caches introspection answers."""
        self._on_access_revoked = listener

    # clients

    def register_app(self, registration: ClientRegistration) -> None:
        with self._lock:
            existing = self._clients.get(registration.client_id)
            if isinstance(existing, ResourceServerClient):
                raise ValueError(f"{registration.client_id!r} is already a resource server")
            self._clients[registration.client_id] = AppClient(registration)

    def register_resource_server(self, client_id: str, secret: str) -> None:
        if not client_id or not secret:
            raise ValueError("a resource server needs a client id and a secret")
        with self._lock:
            self._clients[client_id] = ResourceServerClient(client_id, secret)

    def client(self, client_id: str) -> Client | None:
        with self._lock:
            return self._clients.get(client_id)

    def apps(self) -> list[ClientRegistration]:
        with self._lock:
            return [c.registration for c in self._clients.values() if isinstance(c, AppClient)]

    # launches and parked authorize requests

    def add_launch(self, launch: LaunchContext) -> None:
        with self._lock:
            self._purge()
            self._launches[launch.launch_id] = launch

    def consume_launch(self, launch_id: str, client_id: str) -> LaunchContext | None:
        """The launch, marked used; None when unknown, expired, used or issued for another app."""
        with self._lock:
            launch = self._launches.get(launch_id)
            if launch is None or launch.used or launch.client_id != client_id or time.time() >= launch.expires_at:
                return None
            launch.used = True
            return launch

    def park(self, pending: PendingAuthorization) -> None:
        with self._lock:
            self._purge()
            self._pending[pending.pending_id] = pending

    def unpark(self, pending_id: str) -> PendingAuthorization | None:
        with self._lock:
            pending = self._pending.pop(pending_id, None)
            if pending is None or time.time() >= pending.expires_at:
                return None
            return pending

    # codes and tokens

    def save_code(self, record: AuthorizationCodeRecord) -> None:
        with self._lock:
            self._purge()
            self._codes[record.code] = record

    def code(self, code: str) -> AuthorizationCodeRecord | None:
        with self._lock:
            return self._codes.get(code)

    def save_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._purge()
            self._access[record.access_token] = record
            if record.refresh_token:
                self._refresh[record.refresh_token] = record

    def by_access_token(self, token: str) -> TokenRecord | None:
        with self._lock:
            return self._access.get(token)

    def by_refresh_token(self, token: str) -> TokenRecord | None:
        with self._lock:
            return self._refresh.get(token)

    def revoke(self, record: TokenRecord, *, refresh_too: bool) -> None:
        """Revoke the access token (and its refresh token when `refresh_too`)."""
        with self._lock:
            record.access_revoked = True
            if refresh_too:
                record.refresh_revoked = True
        self._on_access_revoked([record.access_token])

    def revoke_tokens_from_code(self, code: str) -> None:
        """RFC 6749 §4.1.2: a code presented twice revokes what it already bought."""
        with self._lock:
            revoked = [record for record in self._access.values() if record.code == code]
            for record in revoked:
                record.revoke()
        self._on_access_revoked([record.access_token for record in revoked])

    def revoke_all_refresh_tokens(self) -> None:
        with self._lock:
            for record in self._refresh.values():
                record.refresh_revoked = True

    def remember_jti(self, client_id: str, jti: str, expires_at: float) -> bool:
        """Record a client assertion's `jti`; False when it was already seen (a replay)."""
        with self._lock:
            self._purge()
            key = (client_id, jti)
            if key in self._jtis:
                return False
            self._jtis[key] = expires_at
            return True

    def _purge(self) -> None:
        """Forget what can no longer be used, so a long-running sandbox does not grow without bound.

        Used codes are kept until they expire (to detect a replay); tokens until both parts are dead. At most once
        every PURGE_INTERVAL seconds: it walks every record, and a load test keeps thousands (every lookup checks
        expiry itself, so purging later changes no answer)."""
        now = time.time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL
        self._launches = {k: v for k, v in self._launches.items() if v.expires_at > now}
        self._pending = {k: v for k, v in self._pending.items() if v.expires_at > now}
        self._codes = {k: v for k, v in self._codes.items() if v.expires_at > now}
        self._jtis = {k: v for k, v in self._jtis.items() if v > now}
        dead = [k for k, v in self._access.items() if v.is_expired() and not v.refresh_usable()]
        for access_token in dead:
            record = self._access.pop(access_token)
            if record.refresh_token:
                self._refresh.pop(record.refresh_token, None)
