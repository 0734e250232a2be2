"""PKCE (RFC 7636) for the SMART authorize request: always S256, never `plain` (SMART App Launch 2, app-launch.md)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.oauth2.rfc7636 import create_s256_code_challenge

CODE_CHALLENGE_METHOD = "S256"


@dataclass(frozen=True)
class PkcePair:
    """A code verifier (kept server-side) and its S256 challenge (sent on the authorize request)."""

    verifier: str
    challenge: str
    method: str = CODE_CHALLENGE_METHOD


def generate_code_verifier() -> str:
    """A fresh verifier: 64 random bytes → 86 URL-safe characters (RFC 7636 allows 43–128)."""
    return secrets.token_urlsafe(64)


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding."""
    return str(create_s256_code_challenge(verifier))


def new_pkce_pair() -> PkcePair:
    """A fresh verifier with its S256 challenge."""
    verifier = generate_code_verifier()
    return PkcePair(verifier=verifier, challenge=s256_challenge(verifier))
