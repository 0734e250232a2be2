"""The access-token source the FHIR client calls: always a valid token for one launch, or `RelaunchRequired`.

A token expiring within `skew_seconds` is refreshed first. Refreshes are single-flight per launch, across threads,
processes and machines: callers in one process wait on one thread lock, then on the launch's token row lock in the
database (`store.locks`: SELECT … FOR UPDATE on PostgreSQL, the write lock on SQLite), held while the refresh
request is in flight; whoever gets it second re-reads the row and finds the fresh token. The refresh token is used
once and replaced by the one the server returns (rotation). When no refresh is possible (none was granted, or the
server says `invalid_grant`), the caller gets `RelaunchRequired` and the user is told to launch again from the EHR.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from smart_app.config import EhrRegistration
from smart_app.fhir.oauth import InvalidGrant, TokenEndpointError, refresh_access_token
from smart_app.fhir.signing_keys import SigningKey
from smart_app.store.audit import record_event
from smart_app.store.crypto import TokenCipher, TokenDecryptError
from smart_app.store.db import Database
from smart_app.store.launches import get_launch
from smart_app.store.locks import locked_launch_tokens
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
        """The zero-argument callable `FhirClient(token_source=…)` expects, bound to one launch.

        The source remembers the tokens it loaded while they stay fresh, so the FHIR calls of one client (one
        request) read and decrypt them once; a token due for refresh is always looked up and refreshed as before.
        """
        remembered: list[StoredTokens] = []

        def access_token() -> str:
            if remembered and self._fresh(remembered[0]):
                return remembered[0].access_token
            remembered.clear()
            tokens = self._load(launch_id)
            if self._fresh(tokens):
                remembered.append(tokens)
                return tokens.access_token
            with self.locks.for_launch(launch_id):
                return self._refresh_under_row_lock(launch_id)

        return access_token

    def access_token(self, launch_id: str) -> str:
        """A valid access token for the launch, refreshed first when it expires within the skew.

        Raises:
            RelaunchRequired: no tokens, no refresh possible, or the EHR refused the refresh.
        """
        tokens = self._load(launch_id)
        if self._fresh(tokens):
            return tokens.access_token
        with self.locks.for_launch(launch_id):
            return self._refresh_under_row_lock(launch_id)

    def _refresh_under_row_lock(self, launch_id: str) -> str:
        """Refresh while this transaction holds the launch's token row, unless another process just did."""
        failure: RelaunchRequired | None = None
        with locked_launch_tokens(self.database, launch_id) as db:
            try:
                tokens = load_tokens(db, self.cipher, launch_id)
            except TokenDecryptError as error:
                raise RelaunchRequired("the stored session can no longer be read") from error
            if tokens is None:
                raise RelaunchRequired("this launch has no access token")
            if self._fresh(tokens):
                return tokens.access_token
            try:
                return self._refresh(db, launch_id, tokens)
            except _RefreshRefused as refused:
                failure = refused.relaunch  # commit the forgotten refresh token and the audit event first
        raise failure

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
            with self.database.transaction() as db:
                tokens = load_tokens(db, self.cipher, launch_id)
        except TokenDecryptError as error:
            raise RelaunchRequired("the stored session can no longer be read") from error
        if tokens is None:
            raise RelaunchRequired("this launch has no access token")
        return tokens

    def _refresh(self, db: Session, launch_id: str, tokens: StoredTokens) -> str:
        """Refresh at the EHR and store the result in `db` (the locked transaction).

        Raises:
            _RefreshRefused: the EHR refused the refresh token (forgotten in `db`, to be committed).
            RelaunchRequired: no refresh possible and the access token is no longer valid.
        """
        now = self.clock()
        still_valid = tokens.expires_at is not None and tokens.expires_at > now
        if tokens.refresh_token is None:
            if still_valid:
                return tokens.access_token
            raise RelaunchRequired("the access token expired and the EHR granted no refresh")
        launch = get_launch(db, launch_id)
        registration = self.registration_for(launch.ehr_name) if launch else None
        token_endpoint = launch.token_endpoint if launch else None
        if launch is None or registration is None or token_endpoint is None:
            raise RelaunchRequired("the EHR of this launch is no longer registered")
        client = registration.oauth_client(self.signing_keys)
        try:
            response = refresh_access_token(token_endpoint, client, refresh_token=tokens.refresh_token, now=now)
        except InvalidGrant as error:
            forget_refresh_token(db, launch_id)
            record_event(db, "token.refresh_refused", now=now, launch_id=launch_id, ehr_name=registration.name)
            raise _RefreshRefused(RelaunchRequired("the EHR refused to refresh the session")) from error
        except TokenEndpointError as error:
            logger.warning("token refresh for launch %s failed: %s", launch_id, error.error)
            if still_valid:
                return tokens.access_token
            raise RelaunchRequired("the EHR could not refresh the session") from error
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
        if response.scope:
            launch.granted_scope = response.scope  # a refresh may narrow the grant
        record_event(db, "token.refreshed", now=now, launch_id=launch_id, ehr_name=registration.name)
        return response.access_token


class _RefreshRefused(Exception):
    """The EHR refused the refresh token: what the locked transaction recorded is kept, then `relaunch` raised."""

    def __init__(self, relaunch: RelaunchRequired) -> None:
        super().__init__(relaunch.reason)
        self.relaunch = relaunch
