import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from smart_app.fhir.id_token import IdTokenError, JwksCache, unverified_issuer, unverified_kid, verify_id_token

ISSUER = "https://ehr.example/auth"
CLIENT = "spine-auth"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def issuer_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "issuer-1"})


def _id_token(key: RSAKey, **overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT,
        "iat": NOW - 10,
        "exp": NOW + 300,
        "nonce": "n-123",
        "fhirUser": "Practitioner/abc",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _verify(token: str, key: RSAKey, *, nonce: str | None = "n-123", now: int = NOW) -> Any:
    return verify_id_token(token, jwks=KeySet([key]), issuer=ISSUER, client_id=CLIENT, nonce=nonce, now=now)


def test_valid_id_token_gives_fhir_user(issuer_key: RSAKey) -> None:
    identity = _verify(_id_token(issuer_key), issuer_key)
    assert identity.fhir_user == "Practitioner/abc"
    assert identity.subject == "user-1"
    assert unverified_issuer(_id_token(issuer_key)) == ISSUER
    assert unverified_kid(_id_token(issuer_key)) == "issuer-1"


def test_bad_signature_is_refused(issuer_key: RSAKey) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "issuer-1"})
    with pytest.raises(IdTokenError, match="signature"):
        _verify(_id_token(forger), issuer_key)


def test_tampered_payload_is_refused(issuer_key: RSAKey) -> None:
    header, _, signature = _id_token(issuer_key).split(".")
    other_payload = _id_token(issuer_key, fhirUser="Practitioner/evil").split(".")[1]
    with pytest.raises(IdTokenError, match="signature"):
        _verify(f"{header}.{other_payload}.{signature}", issuer_key)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": NOW - 3600}, "exp"),
        ({"nonce": "replayed"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": [CLIENT, "other"]}, "azp"),
    ],
)
def test_claims_that_do_not_match_the_launch_are_refused(issuer_key: RSAKey, overrides: dict, message: str) -> None:
    with pytest.raises(IdTokenError, match=message):
        _verify(_id_token(issuer_key, **overrides), issuer_key)


def test_unsigned_token_is_refused(issuer_key: RSAKey) -> None:
    import base64
    import json

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none'})}.{b64({'iss': ISSUER, 'aud': CLIENT, 'sub': 'x', 'exp': NOW + 60})}."
    with pytest.raises(IdTokenError):
        _verify(token, issuer_key)


def test_real_clock_default_is_not_needed_for_a_fresh_token(issuer_key: RSAKey) -> None:
    now = int(time.time())
    token = _id_token(issuer_key, iat=now, exp=now + 60)
    assert _verify(token, issuer_key, now=now).fhir_user == "Practitioner/abc"


def test_the_jwks_cache_fetches_again_only_for_an_unknown_kid_or_after_the_ttl(issuer_key: RSAKey) -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "issuer-2"})
    published = [KeySet([issuer_key])]
    fetched: list[str] = []
    clock = [0.0]

    def fetch(uri: str) -> KeySet:
        fetched.append(uri)
        return published[0]

    cache = JwksCache(fetch, ttl_seconds=60, clock=lambda: clock[0])
    uri = f"{ISSUER}/jwks"
    first = cache.keys_for(uri, "issuer-1")
    assert cache.keys_for(uri, "issuer-1") is first and cache.keys_for(uri, None) is first
    assert fetched == [uri]
    published[0] = KeySet([issuer_key, rotated])  # the issuer rotates its keys
    assert [key.kid for key in cache.keys_for(uri, "issuer-2").keys] == ["issuer-1", "issuer-2"]
    assert fetched == [uri, uri]
    clock[0] = 61
    cache.keys_for(uri, "issuer-1")
    assert fetched == [uri, uri, uri]
