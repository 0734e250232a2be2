"""The access-token source the FHIR client calls: always a valid token for one launch, or `RelaunchRequired`.

A token expiring within `skew_seconds` is refreshed first. Refreshes are single-flight per launch: concurrent
callers wait on one lock, and whoever gets it second re-reads the store and finds the fresh token. The refresh
token is used once and replaced by the one the server returns (rotation). When no refresh is possible (none was
granted, or the server says `invalid_grant`), the caller gets `RelaunchRequired` and the user is told to launch
again from the EHR. The lock is per process: several app processes need sticky sessions per launch (or a
database row lock) to keep refreshes single-flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from smart_app.config import EhrRegistration
from smart_app.fhir.oauth import InvalidGrant, TokenEndpointError, refresh_access_token
from smart_app.fhir.signing_keys import SigningKey
from smart_app.store.audit import record_event
from smart_app.store.crypto import TokenCipher, TokenDecryptError
from smart_app.store.db import Database
from smart_app.store.launches import get_launch
from smart_app.store.tokens import StoredTokens, forget_refresh_token, load_tokens, save_tokens

logger = logging.getLogger(__name__)


class RelaunchRequired(Exception):
    """No valid access token can be had for this launch: the user must launch the app again from the EHR."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RefreshLocks:
    """One lock per launch id (process-wide), created on first use."""

    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def for_launch(self, launch_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(launch_id, threading.Lock())


@dataclass
class TokenService:
    """Everything a token source needs; one per app."""

    database: Database
    cipher: TokenCipher
    signing_keys: Sequence[SigningKey]
    registration_for: Callable[[str], EhrRegistration | None]
    skew_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    locks: RefreshLocks = field(default_factory=RefreshLocks)

    def source(self, launch_id: str) -> Callable[[], str]:
        """The zero-argument callable `FhirClient(token_source=…)` expects, bound to one launch."""
        return lambda: self.access_token(launch_id)

    def access_token(self, launch_id: str) -> str:
        """A valid access token for the launch, refreshed first when it expires within the skew.

        Raises:
            RelaunchRequired: no tokens, no refresh possible, or the EHR refused the refresh.
        """
        tokens = self._load(launch_id)
        if self._fresh(tokens):
            return tokens.access_token
        with self.locks.for_launch(launch_id):
            tokens = self._load(launch_id)
            if self._fresh(tokens):
                return tokens.access_token
            return self._refresh(launch_id, tokens)

    def _fresh(self, tokens: StoredTokens) -> bool:
        """Not yet due for a refresh: the refresh margin is the skew (60 s) or half the token's lifetime, whichever
        is shorter, so a 30 s token is used for 15 s instead of being refreshed on every request."""
        if tokens.expires_at is None:
            return True
        margin = self.skew_seconds
        if tokens.issued_at is not None and tokens.expires_at > tokens.issued_at:
            margin = min(margin, (tokens.expires_at - tokens.issued_at) / 2)
        return tokens.expires_at - margin > self.clock()

    def _load(self, launch_id: str) -> StoredTokens:
        try:
            with self.database.session() as db:
                tokens = load_tokens(db, self.cipher, launch_id)
        except TokenDecryptError as error:
            raise RelaunchRequired("the stored session can no longer be read") from error
        if tokens is None:
            raise RelaunchRequired("this launch has no access token")
        return tokens

    def _refresh(self, launch_id: str, tokens: StoredTokens) -> str:
        now = self.clock()
        still_valid = tokens.expires_at is not None and tokens.expires_at > now
        if tokens.refresh_token is None:
            if still_valid:
                return tokens.access_token
            raise RelaunchRequired("the access token expired and the EHR granted no refresh")
        with self.database.session() as db:
            launch = get_launch(db, launch_id)
            registration = self.registration_for(launch.ehr_name) if launch else None
            token_endpoint = launch.token_endpoint if launch else None
        if launch is None or registration is None or token_endpoint is None:
            raise RelaunchRequired("the EHR of this launch is no longer registered")
        client = registration.oauth_client(self.signing_keys)
        try:
            response = refresh_access_token(token_endpoint, client, refresh_token=tokens.refresh_token, now=now)
        except InvalidGrant as error:
            with self.database.session() as db:
                forget_refresh_token(db, launch_id)
                record_event(db, "token.refresh_refused", now=now, launch_id=launch_id, ehr_name=registration.name)
            raise RelaunchRequired("the EHR refused to refresh the session") from error
        except TokenEndpointError as error:
            logger.warning("token refresh for launch %s failed: %s", launch_id, error.error)
            if still_valid:
                return tokens.access_token
            raise RelaunchRequired("the EHR could not refresh the session") from error
        with self.database.session() as db:
            save_tokens(
                db,
                self.cipher,
                launch_id,
                access_token=response.access_token,
                refresh_token=response.refresh_token,
                expires_at=response.expires_at,
                scope=response.scope or tokens.scope,
                now=now,
                refreshed=True,
            )
            refreshed_launch = get_launch(db, launch_id)
            if refreshed_launch is not None and response.scope:
                refreshed_launch.granted_scope = response.scope  # a refresh may narrow the grant
            record_event(db, "token.refreshed", now=now, launch_id=launch_id, ehr_name=registration.name)
        return response.access_token
