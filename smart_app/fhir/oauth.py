"""The OAuth 2 side of a SMART launch: authorize request, code exchange, refresh.

The token requests are one form POST on a keep-alive `requests.Session`, with the client authentication authlib
would add: `public` (client_id in the body), `client_secret_basic` (authlib's Basic header) or `private_key_jwt`
(a fresh SMART client assertion, `client_assertion.build_client_assertion`); the answer is read as authlib reads
it. The authorize URL carries the query authlib's `create_authorization_url` builds. (An authlib `OAuth2Session`
per launch opened a new connection and rebuilt its machinery every time: a third of the callback's CPU.)

Every token-endpoint failure becomes a typed `TokenEndpointError`; `invalid_grant` (a used, expired or revoked
code or refresh token) is `InvalidGrant`, which callers turn into "launch again from your EHR".
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE

from smart_app.fhir.client_assertion import build_client_assertion
from smart_app.fhir.discovery import SmartConfiguration
from smart_app.fhir.http_session import EnvironmentOnceSession
from smart_app.fhir.pkce import CODE_CHALLENGE_METHOD, s256_challenge
from smart_app.fhir.signing_keys import SigningKey

ClientAuthMethod = Literal["public", "client_secret_basic", "private_key_jwt"]
TOKEN_TIMEOUT = (5.0, 20.0)
TOKEN_REQUEST_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}
# Token requests of callers that bring no session of their own (refresh): one keep-alive pool per process.
_TOKEN_HTTP = EnvironmentOnceSession()
# Above this many characters a GET authorize URL risks proxy and browser limits; use POST when allowed.
LONG_AUTHORIZE_URL = 2000
CONTEXT_FIELDS = (
    "patient",
    "encounter",
    "fhirContext",
    "need_patient_banner",
    "smart_style_url",
    "intent",
    "tenant",
)


class TokenEndpointError(Exception):
    """The token endpoint refused the request or could not be used; `error` is the OAuth error code."""

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class InvalidGrant(TokenEndpointError):
    """The code or refresh token is no longer valid: the user must launch again."""


class ClientConfigurationError(ValueError):
    """The registered client lacks what its authentication method needs."""


@dataclass(frozen=True)
class OAuthClient:
    """Our registration at one EHR: the client id and how we authenticate at its token endpoint."""

    client_id: str
    auth_method: ClientAuthMethod = "public"
    client_secret: str | None = field(default=None, repr=False)
    signing_key: SigningKey | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.auth_method == "client_secret_basic" and not self.client_secret:
            raise ClientConfigurationError(f"client {self.client_id}: client_secret_basic needs a client_secret")
        if self.auth_method == "private_key_jwt" and self.signing_key is None:
            raise ClientConfigurationError(f"client {self.client_id}: private_key_jwt needs a signing key")


@dataclass(frozen=True)
class AuthorizeRequest:
    """Where to send the browser: a GET `url`, or a POST of `params` to `url` (an auto-submitting form)."""

    method: Literal["GET", "POST"]
    url: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenResponse:
    """A token response. `expires_at` is epoch seconds computed from `expires_in` (access tokens are opaque)."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float | None
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    id_token: str | None = field(default=None, repr=False)
    context: Mapping[str, Any] = field(default_factory=dict)


def build_authorize_request(
    configuration: SmartConfiguration,
    client: OAuthClient,
    *,
    redirect_uri: str,
    scope: str,
    state: str,
    code_verifier: str,
    aud: str,
    launch: str | None = None,
    nonce: str | None = None,
    prefer_post: bool = False,
) -> AuthorizeRequest:
    """The authorize request with PKCE S256, `aud`, and `launch` for an EHR launch.

    POST is used when the EHR is configured to prefer it, or when the server advertises `authorize-post` and the
    GET URL would be long. Raises `ValueError` when the server has no authorization endpoint.
    """
    endpoint = configuration.authorization_endpoint
    if endpoint is None:
        raise ValueError(f"{configuration.iss} has no authorization_endpoint")
    # The query authlib's `create_authorization_url` builds (the endpoint's own parameters first), without
    # building an OAuth2Session for it on every launch.
    ours = [("response_type", "code"), ("client_id", client.client_id)]
    ours += [
        (name, value) for name, value in (("redirect_uri", redirect_uri), ("scope", scope), ("state", state)) if value
    ]
    ours.append(("aud", aud))
    if launch is not None:
        ours.append(("launch", launch))
    if nonce is not None:
        ours.append(("nonce", nonce))
    ours += [("code_challenge", s256_challenge(code_verifier)), ("code_challenge_method", CODE_CHALLENGE_METHOD)]
    parts = urlsplit(endpoint)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *ours])
    url = urlunsplit(parts._replace(query=query))
    use_post = prefer_post or (configuration.has("authorize-post") and len(url) > LONG_AUTHORIZE_URL)
    if not use_post:
        return AuthorizeRequest(method="GET", url=url)
    endpoint_params = {key for key, _ in parse_qsl(parts.query)}
    params = {key: value for key, value in ours if key not in endpoint_params}
    return AuthorizeRequest(method="POST", url=endpoint, params=params)


def exchange_code(
    token_endpoint: str,
    client: OAuthClient,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    now: float,
    timeout: tuple[float, float] = TOKEN_TIMEOUT,
    session: requests.Session | None = None,
) -> TokenResponse:
    """Trade the authorization code (with the PKCE verifier) for tokens (on `session`, kept alive, when given).

    Raises:
        InvalidGrant: the code is used, expired or not ours.
        TokenEndpointError: any other refusal, a transport failure or an unusable response.
    """
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
    }
    raw = _call(lambda: _post_token_request(token_endpoint, client, form, timeout=timeout, session=session))
    return parse_token_response(raw, now=now)


def refresh_access_token(
    token_endpoint: str,
    client: OAuthClient,
    *,
    refresh_token: str,
    now: float,
    timeout: tuple[float, float] = TOKEN_TIMEOUT,
) -> TokenResponse:
    """Use the refresh token once. When the server does not rotate it, the old one is returned for reuse.

    Raises:
        InvalidGrant: the refresh token is expired or revoked.
        TokenEndpointError: any other refusal, a transport failure or an unusable response.
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    raw = _call(lambda: _post_token_request(token_endpoint, client, form, timeout=timeout))
    response = parse_token_response(raw, now=now)
    if response.refresh_token is None:
        response = TokenResponse(**{**response.__dict__, "refresh_token": refresh_token})
    return response


class _OAuthErrorResponse(Exception):
    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


def _post_token_request(
    token_endpoint: str,
    client: OAuthClient,
    form: dict[str, str],
    *,
    timeout: tuple[float, float],
    session: requests.Session | None = None,
) -> Any:
    """POST `form` with the client's authentication; the JSON answer, read the way authlib reads it.

    Raises:
        _OAuthErrorResponse: the answer is an OAuth error object.
        requests.HTTPError: a 5xx, or an answer that is not a JSON object with an error status.
        ValueError: any other answer that is not a JSON object.
    """
    headers = dict(TOKEN_REQUEST_HEADERS)
    body = dict(form)
    if client.auth_method == "public":
        body["client_id"] = client.client_id
    elif client.auth_method == "client_secret_basic":
        credentials = f"{client.client_id}:{client.client_secret}".encode("latin1")
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    else:
        assert client.signing_key is not None  # checked in OAuthClient.__post_init__
        body["client_assertion_type"] = ASSERTION_TYPE
        body["client_assertion"] = build_client_assertion(
            client.signing_key, client_id=client.client_id, token_endpoint=token_endpoint, now=int(time.time())
        )
    response = _send_form(session or _TOKEN_HTTP, token_endpoint, body, headers, timeout)
    if response.status_code >= 500:
        response.raise_for_status()
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        response.raise_for_status()
        raise ValueError(f"token endpoint response is not a JSON object (HTTP {response.status_code})")
    if "error" in answer:
        description = answer.get("error_description")
        raise _OAuthErrorResponse(str(answer["error"]), str(description) if description else None)
    return answer


def _send_form(
    http: requests.Session, url: str, form: dict[str, str], headers: dict[str, str], timeout: tuple[float, float]
) -> requests.Response:
    """POST `form` through the session's transport (its keep-alive pool, the environment's proxies and CA bundle)
    without the session's per-request machinery: a token endpoint gets no cookies and must not redirect, and
    `Session.request` (merging cookies, hooks, settings; following redirects) was half the CPU of the token
    exchange, the costliest step of a sign-in."""
    prepared = requests.Request("POST", url, data=form, headers={**http.headers, **headers}).prepare()
    settings = http.merge_environment_settings(prepared.url, {}, None, None, None)
    verify = settings["verify"]
    response = http.get_adapter(str(prepared.url)).send(
        prepared,
        timeout=timeout,
        verify=True if verify is None else verify,
        cert=settings["cert"],
        proxies=settings["proxies"],
    )
    response.content  # noqa: B018  (read it all, so the connection goes back to the pool, as Session.send does)
    return response


def _call(request: Any) -> Mapping[str, Any]:
    try:
        result = request()
    except _OAuthErrorResponse as error:
        code = error.error or "oauth_error"
        if code == "invalid_grant":
            raise InvalidGrant(code, error.description) from error
        raise TokenEndpointError(code, error.description) from error
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise TokenEndpointError("server_error", f"token endpoint answered HTTP {status}") from error
    except requests.RequestException as error:
        raise TokenEndpointError(
            "temporarily_unavailable", f"token endpoint unreachable ({type(error).__name__})"
        ) from error
    except ValueError as error:
        raise TokenEndpointError("invalid_response", "token endpoint did not answer with JSON") from error
    if not isinstance(result, Mapping):
        raise TokenEndpointError("invalid_response", "token endpoint did not answer with a JSON object")
    return result


def parse_token_response(raw: Mapping[str, Any], *, now: float) -> TokenResponse:
    """Validate a token response (Bearer, an access token) and split the launch context from the tokens.

    Raises:
        TokenEndpointError: no access token, or a token type other than Bearer.
    """
    access_token = raw.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenEndpointError("invalid_response", "token response has no access_token")
    token_type = str(raw.get("token_type", ""))
    if token_type.lower() != "bearer":
        raise TokenEndpointError("invalid_response", f"token type {token_type!r} is not Bearer")
    expires_in = raw.get("expires_in")
    numeric = isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
    textual = isinstance(expires_in, str) and expires_in.isdigit()
    expires_at = now + float(expires_in) if numeric or textual else None  # type: ignore[arg-type]
    refresh_token = raw.get("refresh_token")
    scope = raw.get("scope")
    id_token = raw.get("id_token")
    context = {name: raw[name] for name in CONTEXT_FIELDS if name in raw}
    return TokenResponse(
        access_token=access_token,
        token_type="Bearer",
        expires_at=expires_at,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scope=scope if isinstance(scope, str) else None,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        context=context,
    )
