"""``BEGIN`` sent in one message with a transaction's first statement, on
PostgreSQL (docs/architecture.md, "Transactions").

psycopg opens a transaction by sending ``BEGIN`` on its own, one round trip
before the first statement. A transaction begun through :func:`defer_begin`
instead leaves the driver in autocommit, where psycopg sends nothing of its
own, and marks the connection: its first statement then goes as
``BEGIN; <statement>`` in one simple-protocol message, with its values bound
on the client (quoted by libpq, as app/deferred_inserts.py does: PostgreSQL
takes several statements in one message only without parameters). Only a
``SELECT``, or a statement without values, goes that way; before a first
statement that writes, ``BEGIN`` goes alone, so that the values of a write (a
password hash) are never bound into SQL text. From then
on the server holds the transaction; psycopg's ``commit()`` and
``rollback()`` end it, since they look at the server's transaction status,
not at the autocommit flag. A transaction that sends nothing sends no
``BEGIN`` either.

Code that talks to the driver's connection itself (``COPY``, a raw cursor)
calls :func:`begin_now` first. SQLite is not touched.
"""

from __future__ import annotations

import sqlalchemy as sa
from psycopg import ClientCursor
from psycopg.pq import TransactionStatus

_PENDING = "begin_pending"


def defer_begin(connection: sa.Connection) -> None:
    """Let the transaction of ``connection`` begin with its first statement
    (PostgreSQL, when the server has no transaction open yet)."""
    if connection.dialect.name != "postgresql":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection.pgconn.transaction_status != TransactionStatus.IDLE:
        return
    if not dbapi_connection.autocommit:
        dbapi_connection.autocommit = True
    connection.info[_PENDING] = True


def pending(connection: sa.Connection) -> bool:
    """Whether the transaction of ``connection`` waits for its first
    statement to begin."""
    return bool(connection.info.get(_PENDING))


def take_begin(info: dict) -> str:
    """``"BEGIN;\\n"`` when the transaction of the connection with ``info``
    has not begun yet (and now counts as begun), else ``""``: the prefix of
    the next message sent on it."""
    return "BEGIN;\n" if info.pop(_PENDING, False) else ""


def begin_now(connection: sa.Connection) -> None:
    """Send the deferred ``BEGIN`` now, in a message of its own: before the
    driver's connection is used directly."""
    if take_begin(connection.info):
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute("BEGIN")


def _take_pending(context) -> bool:
    try:
        info = context.root_connection.info
    except NotImplementedError:  # the dialect's first connection, which has none
        return False
    return bool(take_begin(info))


def _with_begin(cursor, sql: str) -> None:
    cursor.execute("BEGIN;\n" + sql)
    cursor.nextset()  # the statement's own result, as if sent alone


@sa.event.listens_for(sa.engine.Engine, "do_execute")
def _first_statement(cursor, statement, parameters, context):
    if not _take_pending(context):
        return False
    if parameters and statement.lstrip()[:6].upper() != "SELECT":
        # Only a read's values are bound into the message's text: a write's
        # may hold a password hash, which goes as a parameter, never as SQL.
        cursor.execute("BEGIN")
        return False
    _with_begin(cursor, ClientCursor(cursor.connection).mogrify(statement, parameters))
    return True


@sa.event.listens_for(sa.engine.Engine, "do_execute_no_params")
def _first_statement_without_parameters(cursor, statement, context):
    if not _take_pending(context):
        return False
    _with_begin(cursor, statement)
    return True


@sa.event.listens_for(sa.engine.Engine, "do_executemany")
def _begin_before_many(cursor, statement, parameters, context):
    if _take_pending(context):
        cursor.execute("BEGIN")
    return False  # the statement itself goes as usual


@sa.event.listens_for(sa.engine.Engine, "commit")
@sa.event.listens_for(sa.engine.Engine, "rollback")
def _forget_on_end(conn):
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


@sa.event.listens_for(sa.pool.Pool, "checkin")
def _forget_on_checkin(dbapi_connection, record):
    record.info.pop(_PENDING, None)
