from urllib.parse import parse_qs

import pytest
from authlib.oauth2.auth import ClientAuth
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from smart_app.fhir.client_assertion import MAX_ASSERTION_LIFETIME, SmartPrivateKeyJWT, build_client_assertion
from smart_app.fhir.signing_keys import (
    SigningKeyError,
    generate_signing_key,
    public_jwks,
    signing_key_from_jwk,
)

TOKEN_URL = "https://ehr.example/oauth/token"


def _assertions_via_authlib(alg: str, count: int) -> tuple[list[str], KeySet]:
    key = generate_signing_key(alg)  # type: ignore[arg-type]
    method = SmartPrivateKeyJWT(key)
    auth = ClientAuth("my-client", None, method)
    assertions = []
    for _ in range(count):
        _, _, body = auth.prepare("POST", TOKEN_URL, {}, "grant_type=authorization_code&code=abc")
        form = parse_qs(body)
        assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
        assertions.append(form["client_assertion"][0])
    return assertions, KeySet.import_key_set(public_jwks([key]))


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_assertion_header_and_claims_meet_smart(alg: str) -> None:
    assertions, public = _assertions_via_authlib(alg, 3)
    jtis = set()
    for assertion in assertions:
        token = jwt.decode(assertion, public, algorithms=[alg])
        assert token.header["alg"] == alg
        assert token.header["typ"] == "JWT"
        assert token.header["kid"] == public.keys[0].kid
        claims = token.claims
        assert claims["iss"] == claims["sub"] == "my-client"
        assert claims["aud"] == TOKEN_URL
        assert 0 < claims["exp"] - claims["iat"] <= MAX_ASSERTION_LIFETIME
        jtis.add(claims["jti"])
    assert len(jtis) == 3, "every assertion needs a fresh jti"


def test_assertion_signed_with_one_key_does_not_verify_with_another() -> None:
    key = generate_signing_key("ES384")
    other = generate_signing_key("ES384")
    assertion = build_client_assertion(key, client_id="c", token_endpoint=TOKEN_URL, now=1_700_000_000)
    with pytest.raises(BadSignatureError):
        jwt.decode(assertion, other.key, algorithms=["ES384"])


def test_lifetime_is_capped_at_five_minutes() -> None:
    key = generate_signing_key("RS384")
    assertion = build_client_assertion(key, client_id="c", token_endpoint=TOKEN_URL, now=1000, lifetime=3600)
    claims = jwt.decode(assertion, KeySet.import_key_set(public_jwks([key])), algorithms=["RS384"]).claims
    assert claims["exp"] == 1000 + MAX_ASSERTION_LIFETIME


def test_private_jwk_round_trip_keeps_kid_and_published_set_has_no_private_parts() -> None:
    key = generate_signing_key("ES384")
    again = signing_key_from_jwk(key.private_jwk())
    assert (again.kid, again.alg) == (key.kid, key.alg)
    published = public_jwks([key, generate_signing_key("RS384")])
    assert [k["alg"] for k in published["keys"]] == ["ES384", "RS384"]
    assert all("d" not in k and k["kid"] for k in published["keys"])


def test_key_that_does_not_fit_its_algorithm_is_refused() -> None:
    rsa = generate_signing_key("RS384").private_jwk()
    with pytest.raises(SigningKeyError, match="EC key"):
        signing_key_from_jwk({**rsa, "alg": "ES384"})
    with pytest.raises(SigningKeyError, match="RS384 or ES384"):
        signing_key_from_jwk({**rsa, "alg": "RS256"})
    with pytest.raises(SigningKeyError, match="private"):
        signing_key_from_jwk({k: v for k, v in rsa.items() if k != "d"})
