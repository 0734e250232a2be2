"""PKCE as SMART App Launch requires it: S256 only, a challenge on every authorize request, and any missing or
wrong verifier at the token endpoint answered with `invalid_grant`."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: send a code_challenge with code_challenge_method=S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        request = grant.request
        verifier = request.form.get("code_verifier")
        code = request.authorization_code
        if not verifier or not CODE_VERIFIER_PATTERN.match(verifier):
            failure = "Missing or malformed 'code_verifier'."
        elif not compare_s256_code_challenge(verifier, code.code_challenge):
            failure = "The code_verifier does not match the code_challenge."
        else:
            return
        # A failed PKCE check burns the code: no second guess at the verifier.
        grant.delete_authorization_code(code)
        raise InvalidGrantError(failure)
