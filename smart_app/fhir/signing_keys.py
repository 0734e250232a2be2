"""Our asymmetric client keys for private_key_jwt: RS384 (RSA 2048+) and ES384 (P-384), as SMART requires.

Keys are joserfc JWKs. `kid` defaults to the RFC 7638 thumbprint so it is stable across restarts; the public set
(`public_jwks`) is what the app publishes at its JWKS URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from joserfc.jwk import ECKey, RSAKey

AssertionAlg = Literal["RS384", "ES384"]
SUPPORTED_ALGS: tuple[AssertionAlg, ...] = ("RS384", "ES384")
RSA_KEY_BITS = 2048


class SigningKeyError(ValueError):
    """A configured signing key is unusable for its algorithm."""


@dataclass(frozen=True)
class SigningKey:
    """A private key with the algorithm it signs with and the `kid` servers will look it up by."""

    alg: AssertionAlg
    kid: str
    key: RSAKey | ECKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk

    def private_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=True))
        jwk.update({"kid": self.kid, "alg": self.alg})
        return jwk


def generate_signing_key(alg: AssertionAlg) -> SigningKey:
    """A fresh key for `alg`, its kid the key's thumbprint."""
    if alg == "RS384":
        key: RSAKey | ECKey = RSAKey.generate_key(RSA_KEY_BITS)
    elif alg == "ES384":
        key = ECKey.generate_key("P-384")
    else:
        raise SigningKeyError(f"unsupported client assertion algorithm {alg!r}; use RS384 or ES384")
    return SigningKey(alg=alg, kid=key.thumbprint(), key=key)


def signing_key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """A signing key from a private JWK carrying `alg` (and optionally `kid`).

    Raises:
        SigningKeyError: missing private part, unsupported alg, or a key type that does not fit the alg.
    """
    alg = jwk.get("alg")
    if alg not in SUPPORTED_ALGS:
        raise SigningKeyError(f"signing key alg must be RS384 or ES384, got {alg!r}")
    if "d" not in jwk:
        raise SigningKeyError("signing key JWK has no private part ('d')")
    fields = {k: v for k, v in jwk.items() if k not in ("alg", "use", "key_ops")}
    key: RSAKey | ECKey
    if alg == "RS384":
        if jwk.get("kty") != "RSA":
            raise SigningKeyError("RS384 needs an RSA key")
        key = RSAKey.import_key(fields)
    else:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-384":
            raise SigningKeyError("ES384 needs an EC key on curve P-384")
        key = ECKey.import_key(fields)
    kid = jwk.get("kid") or key.thumbprint()
    return SigningKey(alg=alg, kid=str(kid), key=key)


def public_jwks(keys: Iterable[SigningKey]) -> dict[str, list[dict[str, Any]]]:
    """The public JWK Set to publish (no private parts)."""
    return {"keys": [key.public_jwk() for key in keys]}
