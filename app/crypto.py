"""Encryption of secrets at rest (API keys, WordPress application passwords)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class SecretError(RuntimeError):
    """A stored secret could not be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    keys = current_app.config.get("ENCRYPTION_KEYS") or []
    if not keys:
        raise SecretError("No ENCRYPTION_KEYS configured")
    # The first key encrypts; every key decrypts, so keys can be rotated.
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt(plaintext: str) -> str:
    """Encrypt text with the newest key."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt text sealed with any configured key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretError("Stored secret cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SecretError("Stored secret cannot be decrypted with the configured keys") from exc


def mask(secret: str | None, visible: int = 4) -> str:
    """Show only the last few characters of a secret."""
    if not secret:
        return ""
    return "•" * 8 + secret[-visible:] if len(secret) > visible else "•" * len(secret)


class EncryptedText(TypeDecorator):
    """A column that stores Fernet ciphertext and gives back plaintext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
