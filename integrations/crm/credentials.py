"""CRM credentials encrypted at rest (Fernet, keys from CRM_CREDENTIALS_KEY or its _FILE).

Several comma-separated keys make a MultiFernet: the first encrypts, every key decrypts, so a
key is rotated by putting the new one first and re-saving (`rotate`). Secrets are never logged
and never shown again: the admin only ever writes them."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the configured keys."""


def _keys() -> list[bytes]:
    raw = [k.strip() for k in (settings.CRM_CREDENTIALS_KEY or "").split(",") if k.strip()]
    if raw:
        return [k.encode() for k in raw]
    if settings.DEBUG:
        # Development only: a key derived from SECRET_KEY, so `make run` works without setup.
        digest = hashlib.sha256(b"dealbridge-crm:" + settings.SECRET_KEY.encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    raise ImproperlyConfigured(
        "Set CRM_CREDENTIALS_KEY (or CRM_CREDENTIALS_KEY_FILE) to a Fernet key to store CRM "
        "credentials: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'"
    )


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as exc:
        raise ImproperlyConfigured(f"CRM_CREDENTIALS_KEY is not a Fernet key: {exc}") from None


def encrypt(secrets: dict) -> str:
    """The secrets dict as a Fernet token (text)."""
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            "The stored CRM credentials cannot be decrypted with CRM_CREDENTIALS_KEY "
            "(was the key changed?): connect again."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt under the first key (after adding a new key in front)."""
    return _fernet().rotate(token.encode()).decode() if token else token
