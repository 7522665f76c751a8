"""Endpoint secrets and the signature of each delivery (docs/webhooks.md, "Signature").

A secret is made once per endpoint (and again on rotation), shown once, and
kept encrypted with a key derived from ``SECRET_KEY`` (Fernet: AES-128-CBC and
HMAC-SHA256), so that a copy of the database alone does not let anyone sign
webhooks. A new ``SECRET_KEY`` leaves the stored secrets unreadable: each
endpoint's deliveries then fail, saying so, until its secret is rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

SIGNATURE_VERSION = "v1"


class SecretUnreadable(Exception):
    """The stored secret was sealed with another ``SECRET_KEY``."""


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    # A key of its own for this use, so that SECRET_KEY itself never encrypts anything.
    derived = hmac.new(
        str(current_app.config["SECRET_KEY"]).encode(), b"webhook endpoint secrets", hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str) -> str:
    """``secret`` encrypted for the database."""
    return _fernet().encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The secret in ``sealed``; :class:`SecretUnreadable` under another ``SECRET_KEY``."""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "the endpoint's secret cannot be read with the current SECRET_KEY:"
            " rotate it (POST /api/webhooks/{uuid}/secret)"
        ) from None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Webhook-Signature`` value: ``v1=`` and the hex HMAC-SHA256,
    keyed with the secret, of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"
