"""The server's id_token signing key (RS256), generated at start-up and published at `/jwks`."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import RSAKey

ID_TOKEN_ALG = "RS256"


class SigningKey:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ID_TOKEN_ALG}, auto_kid=True)
        self.kid: str = str(self.key.kid)

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}
