"""Sealing secrets we must be able to read back (to sign or to authenticate), so that a
database dump alone does not reveal them.

The key comes from FIELD_ENCRYPTION_KEY when set (any string; rotate by re-sealing), else it
is derived from SECRET_KEY. Changing the key makes sealed secrets unreadable: tenants then
rotate their webhook secret.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = getattr(settings, "FIELD_ENCRYPTION_KEY", "") or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(b"smsportal-sealed-secrets:" + material.encode()).digest())
    return Fernet(key)


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(token: str) -> str:
    """Raises ValueError when the token was sealed with another key or is damaged."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("sealed secret cannot be opened with the current key") from None


def hint(secret: str) -> str:
    """The last four characters: enough to tell two secrets apart, useless to an attacker."""
    return "…" + secret[-4:]
