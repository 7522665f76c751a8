"""Helpers that test files across the suite share: building requests and
reading answers the same way everywhere."""

from __future__ import annotations

import jwt


def bearer(token: str) -> dict:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def read_claims(token: str) -> dict:
    """A token's claims, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def assert_field_error(response, field: str, message: str) -> None:
    """A 400 in the envelope that names one field and what is wrong with it."""
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid {field}: {message}",
            "errors": [{"field": field, "message": message}],
        }
    }
