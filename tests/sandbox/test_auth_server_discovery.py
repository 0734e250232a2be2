"""Discovery: `/.well-known/smart-configuration`, OpenID configuration, the JWKS and the style JSON."""

from __future__ import annotations

import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import TIMEOUT

REQUIRED_CAPABILITIES = {
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner",
    "context-style",
    "context-ehr-patient",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
}
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri")


def test_smart_configuration(auth_server: AuthServerHandle) -> None:
    response = requests.get(
        f"{auth_server.base_url}/.well-known/smart-configuration", headers={"Accept": "text/html"}, timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    config = response.json()
    assert config["issuer"] == auth_server.base_url
    for name in ENDPOINTS:
        assert config[name].startswith(auth_server.base_url + "/"), name
    assert set(config["capabilities"]) >= REQUIRED_CAPABILITIES
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert {"client_secret_basic", "private_key_jwt"} <= set(config["token_endpoint_auth_methods_supported"])
    assert {"authorization_code", "refresh_token"} == set(config["grant_types_supported"])
    assert {"launch", "launch/patient", "openid", "fhirUser", "offline_access"} <= set(config["scopes_supported"])


def test_every_advertised_endpoint_answers(auth_server: AuthServerHandle) -> None:
    config = requests.get(f"{auth_server.base_url}/.well-known/smart-configuration", timeout=TIMEOUT).json()
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        response = requests.post(config[name], data={}, timeout=TIMEOUT)
        assert response.status_code in (400, 401) and "error" in response.json(), name
    assert requests.get(config["jwks_uri"], timeout=TIMEOUT).status_code == 200
    assert requests.get(config["authorization_endpoint"], timeout=TIMEOUT).status_code == 400


def test_openid_configuration_matches(auth_server: AuthServerHandle) -> None:
    smart = requests.get(f"{auth_server.base_url}/.well-known/smart-configuration", timeout=TIMEOUT).json()
    oidc = requests.get(f"{auth_server.base_url}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert oidc["issuer"] == smart["issuer"] == auth_server.base_url
    assert oidc["jwks_uri"] == smart["jwks_uri"]
    assert oidc["token_endpoint"] == smart["token_endpoint"]
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "fhirUser" in oidc["claims_supported"]


def test_jwks_publishes_only_the_public_signing_key(auth_server: AuthServerHandle) -> None:
    keys = requests.get(f"{auth_server.base_url}/jwks", timeout=TIMEOUT).json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
