"""private_key_jwt client authentication (SMART "client-confidential-asymmetric", RFC 7523).

SMART's extra rules on top of authlib's JWTBearerClientAssertion: RS384 or ES384 only, `kid` required, `jku` (when
sent) must be the registered JWKS URL, `exp` no more than five minutes ahead, `aud` = the token URL, and a `jti`
seen before is a replay."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .registration import AppClient, ClientRegistration
from .store import MemoryStore

ASSERTION_ALGORITHMS = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME = 300
CLOCK_LEEWAY = 30
JWKS_CACHE_SECONDS = 300
JWKS_FETCH_TIMEOUT = 5.0


class ClientKeys:
    """Public keys of asymmetric clients: the inline `jwks`, or `jwks_uri` fetched over HTTP and cached (fetched
    again when a `kid` is not in the cached set, so clients can rotate keys)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, KeySet]] = {}

    def key_set(self, registration: ClientRegistration, kid: str) -> KeySet:
        if registration.jwks is not None:
            return _import_key_set(dict(registration.jwks))
        uri = str(registration.jwks_uri)
        with self._lock:
            cached = self._cache.get(uri)
        if cached and cached[0] > time.time() and any(key.kid == kid for key in cached[1].keys):
            return cached[1]
        keys = _import_key_set(_fetch_jwks(uri))
        with self._lock:
            self._cache[uri] = (time.time() + JWKS_CACHE_SECONDS, keys)
        return keys


def _fetch_jwks(uri: str) -> dict[str, Any]:
    try:
        response = requests.get(uri, timeout=JWKS_FETCH_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as error:
        raise InvalidClientError(description="The client's jwks_uri could not be read.") from error
    if not isinstance(body, dict):
        raise InvalidClientError(description="The client's jwks_uri did not return a JWK Set.")
    return body


def _import_key_set(data: dict[str, Any]) -> KeySet:
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise InvalidClientError(description="The client's JWK Set is not valid.") from error


class PrivateKeyJwtAuth(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, *, token_url: str, store: MemoryStore, keys: ClientKeys) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY)
        self._token_url = token_url
        self._store = store
        self._keys = keys

    def __call__(self, query_client: Any, request: Any) -> Any:
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        headers, claims = self.extract_assertion(assertion)
        if headers.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(description="The client assertion must be signed with RS384 or ES384.")
        kid = headers.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidClientError(description="The client assertion header must carry a 'kid'.")
        client = query_client(claims.get("sub")) if isinstance(claims.get("sub"), str) else None
        if not isinstance(client, AppClient) or client.registration.auth_method != self.CLIENT_AUTH_METHOD:
            raise InvalidClientError(description="The client is unknown or not registered for private_key_jwt.")
        jku = headers.get("jku")
        if jku is not None and jku != client.registration.jwks_uri:
            raise InvalidClientError(description="The 'jku' header is not the registered JWKS URL.")
        key_set = self._keys.key_set(client.registration, kid)
        request.client = client
        self.process_assertion_claims(assertion, key_set)
        return self.authenticate_client(client)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as error:
            raise InvalidClientError(description="The client assertion signature does not verify.") from error
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: Any) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise InvalidClientError(description="The client assertion must carry a numeric 'exp'.")
        if exp > int(time.time()) + 1 + MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="The client assertion 'exp' is more than 5 minutes ahead.")
        super().verify_claims(claims)

    def get_audiences(self) -> list[str]:
        return [self._token_url]

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        if not isinstance(jti, str) or not jti:
            return False
        return self._store.remember_jti(str(claims["sub"]), jti, float(claims["exp"]) + CLOCK_LEEWAY)
