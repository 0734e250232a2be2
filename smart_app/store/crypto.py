"""Encryption at rest for tokens (Fernet: AES-128-CBC + HMAC-SHA256), with key rotation by `MultiFernet`; `seal` and
`unseal` for the stores whose rows are encrypted when they are given a cipher (attestations, kept drafts)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenDecryptError(Exception):
    """A stored value cannot be decrypted with any configured key (key lost or rotated out, or tampering)."""


def generate_fernet_key() -> str:
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            raise TokenDecryptError("stored token cannot be decrypted with the configured keys") from error


def seal(cipher: TokenCipher | None, text: str) -> tuple[str, bool]:
    """`text` as a store keeps it (encrypted when the store has a cipher), and whether it is encrypted."""
    return (cipher.encrypt(text), True) if cipher else (text, False)


def unseal(cipher: TokenCipher | None, stored: str, encrypted: bool, what: str) -> str:
    """The text `seal` kept.

    Raises:
        ValueError: it is encrypted and the store has no cipher (`what` names the kind of row).
    """
    if not encrypted:
        return stored
    if cipher is None:
        raise ValueError(f"this {what} is encrypted and the store has no cipher")
    return cipher.decrypt(stored)
