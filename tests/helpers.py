"""Helpers that test files across the suite share: building requests and
reading answers the same way everywhere."""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import tempfile
import time

import jwt
import sqlalchemy as sa

from app.db import db


def bearer(token: str) -> dict:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def read_claims(token: str) -> dict:
    """A token's claims, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def without_links(entity: dict) -> dict:
    """An entity as the API shows it, less its ``links``."""
    return {key: value for key, value in entity.items() if key != "links"}


def start_of_a_second() -> None:
    """Wait for the next second to begin, so that what follows shares it."""
    time.sleep(1 - time.time() % 1 + 0.01)


def event_names(events) -> list[str]:
    """The names in the outbox, oldest first (``events`` is the fixture)."""
    return [name for name, _ in events()]


def query(app, sql: str, **params) -> list[tuple]:
    """The rows of a raw SQL query."""
    with app.app_context():
        rows = [tuple(row) for row in db.session.execute(sa.text(sql), params)]
        db.session.remove()
    return rows


def execute(app, sql: str, **params) -> None:
    """A raw SQL statement, committed."""
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text(sql), params)
        db.session.remove()


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


def watch_statements(app, send, note):
    """The response of ``send()``; ``note(connection, sql)`` is called for
    each SQL statement run meanwhile."""

    def record(conn, cursor, statement, parameters, context, executemany):
        note(conn, statement)

    with app.app_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        return send()
    finally:
        with app.app_context():
            sa.event.remove(engine, "before_cursor_execute", record)


def wire_messages(app, send) -> tuple:
    """The response of ``send()`` and the protocol messages that went between
    the service and PostgreSQL meanwhile, as libpq traces them: ``(direction,
    message, text)``, ``"F"`` from the service, ``"B"`` from the server. Each
    ``ReadyForQuery`` ends one round trip, whatever SQLAlchemy saw."""
    from psycopg import pq

    traces: dict[int, object] = {}
    messages: list[tuple[str, str, str]] = []
    with contextlib.ExitStack() as files:

        def checkout(dbapi_connection, record, proxy):
            if id(dbapi_connection) not in traces:
                traces[id(dbapi_connection)] = files.enter_context(tempfile.TemporaryFile())
            dbapi_connection.pgconn.trace(traces[id(dbapi_connection)].fileno())
            dbapi_connection.pgconn.set_trace_flags(
                pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
            )

        def checkin(dbapi_connection, record):
            if dbapi_connection is not None and id(dbapi_connection) in traces:
                dbapi_connection.pgconn.untrace()

        with app.app_context():
            pool = db.engine.pool
        sa.event.listen(pool, "checkout", checkout)
        sa.event.listen(pool, "checkin", checkin)
        try:
            response = send()
        finally:
            sa.event.remove(pool, "checkout", checkout)
            sa.event.remove(pool, "checkin", checkin)
        for trace in traces.values():
            trace.seek(0)
            for line in trace.read().decode().splitlines():
                if line.count("\t") < 2 and messages:
                    # A message's text (a query with newlines) runs over several lines.
                    direction, message, text = messages.pop()
                    messages.append((direction, message, f"{text}\n{line}"))
                    continue
                direction, _length, message, *text = line.split("\t")
                messages.append((direction, message, "\t".join(text).strip()))
    return response, messages


def wire_of_a_customer_patch(app, client, auth, body: dict | None = None) -> tuple:
    """A new customer PATCHed by an admin (``{"full_name": "Jane D"}`` unless
    ``body``): the response and its protocol messages (``wire_messages``)."""
    customer = auth.create_customer()
    headers = auth.admin_headers()
    return wire_messages(
        app,
        lambda: client.patch(
            f"/api/customers/{customer['uuid']}",
            json=body or {"full_name": "Jane D"},
            headers=headers,
        ),
    )


def round_trips(messages) -> int:
    """How many times the service waited for PostgreSQL (``wire_messages``)."""
    return sum(1 for direction, message, _ in messages if message == "ReadyForQuery")


def count_statements(app, send) -> tuple:
    """The response of ``send()`` and the SQL statements run while it ran."""
    statements: list[str] = []
    response = watch_statements(app, send, lambda conn, sql: statements.append(sql))
    return response, statements


SPEC_MODULES = (
    "app.hookspecs",
    "plugins.customer.hookspecs",
    "plugins.address.hookspecs",
    "plugins.password.hookspecs",
    "plugins.privacy.hookspecs",
    "plugins.timeline.hookspecs",
    "plugins.group.hookspecs",
    "plugins.session.hookspecs",
)


@functools.cache
def hookspecs() -> dict:
    """Every hookspec of the core and the built-in plugins, by name."""
    found = {}
    for module_name in SPEC_MODULES:
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if hasattr(function, "evershop_spec"):
                found[name] = function
    return found
