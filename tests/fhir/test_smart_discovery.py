import pytest
import requests
import responses

from smart_app.fhir.discovery import (
    DiscoveryCache,
    DiscoveryError,
    SmartConfiguration,
    fetch_smart_configuration,
    parse_smart_configuration,
)

ISS = "https://ehr.example/fhir/r4"


def test_relative_endpoints_resolve_against_the_fhir_base() -> None:
    config = parse_smart_configuration(
        ISS,
        {
            "authorization_endpoint": "../auth/authorize",
            "token_endpoint": "/oauth/token",
            "jwks_uri": "https://keys.example/jwks",
            "capabilities": ["launch-ehr", "permission-v2", 7],
            "code_challenge_methods_supported": ["S256"],
        },
    )
    assert config.authorization_endpoint == "https://ehr.example/fhir/auth/authorize"
    assert config.token_endpoint == "https://ehr.example/oauth/token"
    assert config.jwks_uri == "https://keys.example/jwks"
    assert config.capabilities == {"launch-ehr", "permission-v2"}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "not a JSON object"),
        ({"authorization_endpoint": "https://x/a"}, "token_endpoint is missing"),
        ({"token_endpoint": "javascript:alert(1)"}, "not an http"),
        ({"token_endpoint": 5}, "not a URL"),
    ],
)
def test_unusable_documents_are_refused(document: object, reason: str) -> None:
    with pytest.raises(DiscoveryError, match=reason):
        parse_smart_configuration(ISS, document)


@responses.activate
def test_fetch_failures_are_discovery_errors() -> None:
    url = ISS + "/.well-known/smart-configuration"
    responses.get(url, status=500)
    with pytest.raises(DiscoveryError, match="HTTP 500"):
        fetch_smart_configuration(ISS, session=requests.Session())
    responses.replace(responses.GET, url, body="<html>", status=200)
    with pytest.raises(DiscoveryError, match="not JSON"):
        fetch_smart_configuration(ISS, session=requests.Session())
    responses.replace(responses.GET, url, body=requests.ConnectTimeout())
    with pytest.raises(DiscoveryError, match="unreachable"):
        fetch_smart_configuration(ISS, session=requests.Session())


def test_cache_fetches_once_per_issuer_until_the_ttl() -> None:
    calls: list[str] = []
    clock = [0.0]

    def fetch(iss: str) -> SmartConfiguration:
        calls.append(iss)
        return SmartConfiguration(iss=iss, token_endpoint=iss + "/token")

    cache = DiscoveryCache(fetch, ttl_seconds=60, clock=lambda: clock[0])
    assert cache.get("https://a") is cache.get("https://a")
    cache.get("https://b")
    assert calls == ["https://a", "https://b"]
    clock[0] = 61
    cache.get("https://a")
    assert calls == ["https://a", "https://b", "https://a"]
