"""Encrypt OAuth refresh tokens at rest with Fernet, keyed from a setting through HKDF."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Binds derived keys to this use, so the same secret never keys anything else the same way.
_INFO = b"stemsplit youtube_bot refresh token v1"


class TokenDecryptionError(Exception):
    """A stored token cannot be decrypted (the key changed or the value was altered)."""


def _fernet() -> Fernet:
    secret = settings.YOUTUBE_TOKEN_KEY or settings.SECRET_KEY
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plain: str) -> str:
    """Return the Fernet token of a secret, as text for a database column."""
    return _fernet().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Return the secret a Fernet token holds, or raise TokenDecryptionError."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise TokenDecryptionError(
            "The stored refresh token cannot be decrypted (YOUTUBE_TOKEN_KEY changed?); "
            "authorize the channel again."
        ) from exc
