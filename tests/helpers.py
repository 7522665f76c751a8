"""Helpers that test files across the suite share: building requests and
reading answers the same way everywhere."""

from __future__ import annotations

import jwt
import sqlalchemy as sa

from app.db import db


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


def count_statements(app, send) -> tuple:
    """The response of ``send()`` and the SQL statements run while it ran."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = send()
    finally:
        with app.app_context():
            sa.event.remove(engine, "before_cursor_execute", record)
    return response, statements
