"""private_key_jwt client assertions that meet SMART App Launch 2 (client-confidential-asymmetric.md).

authlib's `PrivateKeyJWT` signs RS256 with no `kid`, a one-hour `exp` and, when given a claims dict, the same `jti`
on every assertion; SMART needs RS384 or ES384, `kid`, `typ=JWT`, `exp` at most 5 minutes ahead and a fresh `jti`
each time. `SmartPrivateKeyJWT` builds header and claims anew on every `sign()`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt

from smart_app.fhir.signing_keys import SigningKey

MAX_ASSERTION_LIFETIME = 300


def build_client_assertion(
    signing_key: SigningKey, *, client_id: str, token_endpoint: str, now: int, lifetime: int = MAX_ASSERTION_LIFETIME
) -> str:
    """A signed client assertion JWT: iss = sub = client_id, aud = token endpoint, fresh jti, exp ≤ now + 300 s."""
    lifetime = max(1, min(lifetime, MAX_ASSERTION_LIFETIME))
    header = {"alg": signing_key.alg, "kid": signing_key.kid, "typ": "JWT"}
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(32),
    }
    return jwt.encode(header, claims, signing_key.key, algorithms=[signing_key.alg])


class SmartPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]  # authlib is untyped
    """authlib client-auth method `private_key_jwt` with SMART's algorithm, header and claim rules.

    Register on an authlib `OAuth2Session` with `register_client_auth_method`; the session's `client_secret` is
    unused (the key comes from here).
    """

    name = "private_key_jwt"

    def __init__(
        self,
        signing_key: SigningKey,
        *,
        lifetime: int = MAX_ASSERTION_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(alg=signing_key.alg)
        self.signing_key = signing_key
        self.lifetime = lifetime
        self.clock = clock

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return build_client_assertion(
            self.signing_key,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            now=int(self.clock()),
            lifetime=self.lifetime,
        )
