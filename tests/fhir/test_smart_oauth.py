from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from smart_app.fhir.discovery import SmartConfiguration
from smart_app.fhir.oauth import (
    LONG_AUTHORIZE_URL,
    ClientConfigurationError,
    InvalidGrant,
    OAuthClient,
    TokenEndpointError,
    build_authorize_request,
    exchange_code,
    parse_token_response,
    refresh_access_token,
)
from smart_app.fhir.pkce import s256_challenge

ISS = "https://ehr.example/fhir"
TOKEN_URL = "https://ehr.example/token"
CONFIG = SmartConfiguration(
    iss=ISS,
    token_endpoint=TOKEN_URL,
    authorization_endpoint="https://ehr.example/authorize",
    capabilities=frozenset({"authorize-post"}),
)
PUBLIC = OAuthClient(client_id="app")


def _authorize(scope: str = "launch openid", **kwargs: object):  # type: ignore[no-untyped-def]
    return build_authorize_request(
        CONFIG,
        PUBLIC,
        redirect_uri="https://app.example/callback",
        scope=scope,
        state="s" * 32,
        code_verifier="v" * 64,
        aud=ISS,
        launch="L1",
        nonce="n1",
        **kwargs,  # type: ignore[arg-type]
    )


def test_get_authorize_url_carries_every_smart_parameter() -> None:
    request = _authorize()
    assert request.method == "GET"
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": "https://app.example/callback",
        "scope": "launch openid",
        "state": "s" * 32,
        "aud": ISS,
        "launch": "L1",
        "nonce": "n1",
        "code_challenge": s256_challenge("v" * 64),
        "code_challenge_method": "S256",
    }


def test_long_scope_goes_by_post_when_the_server_allows_it() -> None:
    long_scope = " ".join(f"patient/Type{i}.rs" for i in range(LONG_AUTHORIZE_URL // 10))
    request = _authorize(scope=long_scope)
    assert request.method == "POST"
    assert request.url == "https://ehr.example/authorize"
    assert request.params["scope"] == long_scope
    assert request.params["code_challenge_method"] == "S256"
    assert _authorize(prefer_post=True).method == "POST"


def test_confidential_clients_need_their_credentials() -> None:
    with pytest.raises(ClientConfigurationError, match="client_secret"):
        OAuthClient(client_id="x", auth_method="client_secret_basic")
    with pytest.raises(ClientConfigurationError, match="signing key"):
        OAuthClient(client_id="x", auth_method="private_key_jwt")


def test_token_response_splits_context_from_tokens() -> None:
    response = parse_token_response(
        {
            "access_token": "secret-access-9",
            "token_type": "bearer",
            "expires_in": 300,
            "scope": "patient/Patient.rs",
            "patient": "p1",
            "need_patient_banner": False,
            "refresh_token": "secret-refresh-7",
        },
        now=1000.0,
    )
    assert response.expires_at == 1300.0
    assert response.context == {"patient": "p1", "need_patient_banner": False}
    assert "secret" not in repr(response)
    with pytest.raises(TokenEndpointError, match="Bearer"):
        parse_token_response({"access_token": "x", "token_type": "mac"}, now=0)
    with pytest.raises(TokenEndpointError, match="no access_token"):
        parse_token_response({"token_type": "Bearer"}, now=0)


@responses.activate
def test_invalid_grant_is_typed_and_server_errors_are_not_leaked_raw() -> None:
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "revoked"})
    with pytest.raises(InvalidGrant, match="revoked"):
        refresh_access_token(TOKEN_URL, PUBLIC, refresh_token="rt", now=0)
    responses.replace(responses.POST, TOKEN_URL, status=503, body="busy")
    with pytest.raises(TokenEndpointError, match="HTTP 503") as info:
        exchange_code(TOKEN_URL, PUBLIC, code="c", redirect_uri="https://app/cb", code_verifier="v" * 50, now=0)
    assert not isinstance(info.value, InvalidGrant)
    responses.replace(responses.POST, TOKEN_URL, body=requests.ConnectionError())
    with pytest.raises(TokenEndpointError, match="unreachable"):
        exchange_code(TOKEN_URL, PUBLIC, code="c", redirect_uri="https://app/cb", code_verifier="v" * 50, now=0)


@responses.activate
def test_refresh_without_rotation_keeps_the_old_refresh_token() -> None:
    responses.post(TOKEN_URL, json={"access_token": "new", "token_type": "Bearer", "expires_in": 60})
    response = refresh_access_token(TOKEN_URL, PUBLIC, refresh_token="old-rt", now=0)
    assert (response.access_token, response.refresh_token) == ("new", "old-rt")
    body = parse_qs(responses.calls[0].request.body)
    assert body == {"grant_type": ["refresh_token"], "refresh_token": ["old-rt"], "client_id": ["app"]}
