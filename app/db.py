"""The database handle, column types that read the same on PostgreSQL and
SQLite, the write-transaction switch for SQLite, and what the service does
while the database is away. Services open transactions with
:func:`app.transactions.transaction`.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: it takes
the database's write lock at once (waiting up to the busy timeout for another
writer), so that two transactions never both read a state and then write on
it; with PostgreSQL the services lock rows instead. File databases run in WAL
mode, where readers do not wait for the writer.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase

from app import lazy_begin

log = logging.getLogger(__name__)

# Stable constraint names, so that migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def _lower(text):
    return text.lower() if isinstance(text, str) else text


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked,
    and its ``lower()`` folds ASCII letters only: Python's folding replaces it,
    so that emails compare alike on SQLite and in the service."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        # The driver's own BEGIN is off: _sqlite_begin says which kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("memory", "wal"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


# Whether the transaction about to begin will write (SQLite: BEGIN IMMEDIATE).
_writing: contextvars.ContextVar[bool] = contextvars.ContextVar("writing", default=False)


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


@contextmanager
def writing() -> Iterator[None]:
    """Transactions begun in this block will write: on SQLite they take the
    write lock when they begin."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


# --- read requests without a transaction ------------------------------------------
#
# A read request on PostgreSQL runs its session's statements in autocommit:
# under READ COMMITTED each statement of a transaction sees its own snapshot
# anyway, so BEGIN and the closing ROLLBACK (two round trips of a GET's six)
# bought nothing. transaction() turns the connection back before it writes;
# connections taken outside the session (health, metrics, the outbox) are
# not touched. docs/architecture.md, "Transactions".
READ_ENDPOINTS = frozenset({"graphql.admin_graphql", "graphql.public_graphql"})


def _read_request() -> bool:
    return has_request_context() and (
        request.method in ("GET", "HEAD") or request.endpoint in READ_ENDPOINTS
    )


@sa.event.listens_for(sa.orm.Session, "after_begin")
def _reads_in_autocommit(session, transaction, connection):
    if connection.dialect.name != "postgresql":
        return
    if not _writing.get() and _read_request():
        connection.connection.dbapi_connection.autocommit = True
    else:
        lazy_begin.defer_begin(connection)


def end_autocommit(connection: sa.Connection) -> None:
    """Make ``connection`` transactional again (a read request about to write):
    its next statement begins a transaction (with ``BEGIN`` in the same
    message, app/lazy_begin.py)."""
    lazy_begin.defer_begin(connection)


@contextmanager
def write_connection(engine: sa.Engine | None = None) -> Iterator[sa.Connection]:
    """``engine.begin()`` for a transaction that writes (see :func:`writing`)."""
    with writing(), (engine or db.engine).begin() as conn:
        lazy_begin.defer_begin(conn)
        yield conn


# jsonb on PostgreSQL (EverShop's type), JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert many rows, all with the same columns, in the transaction of
    ``connection``: through ``COPY`` on PostgreSQL (several times faster than
    INSERT for thousands of rows), one executemany INSERT elsewhere. Columns
    left out get their server defaults (identity ids); nothing is returned,
    so give the rows keys of your own (their uuids) to read them back."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), rows)
        return
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, sa.JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    lazy_begin.begin_now(connection)
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [Jsonb(row[name]) if name in as_json else row[name] for name in columns]
                )
    except psycopg.Error as error:
        # As SQLAlchemy raises the driver's errors, so that callers see one kind.
        raise sa.exc.DBAPIError.instance(
            statement.as_string(cursor), None, error, psycopg.Error, dialect=connection.dialect
        ) from error


def utcnow() -> datetime:
    """The current time in UTC, to the second (the API shows seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_timestamp(value: datetime | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, as the API writes every timestamp."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def parse_timestamp(text: str | None) -> datetime | None:
    """The moment :func:`format_timestamp` wrote (UTC)."""
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


def is_unique_violation(error: sa.exc.IntegrityError, needle: str) -> bool:
    """Whether an IntegrityError is a unique violation mentioning ``needle``
    (a column or index name), on PostgreSQL or SQLite."""
    orig = error.orig
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(orig, "sqlstate", None) == "23505":
        return needle in (diag.constraint_name or "") or needle in str(orig)
    text = str(orig)
    return "UNIQUE constraint failed" in text and needle in text


# --- database outages -------------------------------------------------------------

# A pooled connection idle longer than this is pinged before use: after the
# database restarted, the first request on each old connection would fail.
IDLE_PING_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5


def is_disconnect(error: BaseException) -> bool:
    """Whether a database error means the connection or the server went away."""
    if isinstance(error, sa.exc.DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error, sa.exc.OperationalError)
    return isinstance(error, sa.exc.DisconnectionError)


@sa.event.listens_for(sa.pool.Pool, "checkin")
def _note_checkin(dbapi_connection, record):
    record.info["checked_in"] = time.monotonic()
    # A read request's connection goes back transactional (_reads_in_autocommit).
    if getattr(dbapi_connection, "autocommit", False) is True and not type(
        dbapi_connection
    ).__module__.startswith("sqlite3"):
        # A broken connection refuses; the next checkout's ping discards it.
        with contextlib.suppress(Exception):
            dbapi_connection.autocommit = False


@sa.event.listens_for(sa.pool.Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, proxy):
    """Ping a connection that sat idle in the pool; if the database dropped it,
    SQLAlchemy discards it and takes another (connecting anew)."""
    idle_since = record.info.get("checked_in")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as error:
        raise sa.exc.DisconnectionError(str(error)) from error
    # A ping leaves psycopg inside a transaction: end it.
    dbapi_connection.rollback()


def _database_unavailable(error: sa.exc.SQLAlchemyError):
    """503 with Retry-After when the database is away; any other database
    error is a fault of the service (500)."""
    from app.errors import error_response, handle_unexpected

    if not is_disconnect(error):
        return handle_unexpected(error)
    db.session.remove()
    log.warning("database unavailable: %s", " ".join(str(getattr(error, "orig", error)).split()))
    response = error_response(
        503, "The database is unavailable at the moment: try again in a few seconds."
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def retrying_reads(work, *args, **kwargs):
    """Run ``work``; if it met a connection the database had dropped while the
    request is a read, run it once more on a fresh connection (a write is not
    repeated: it answers 503)."""
    try:
        return work(*args, **kwargs)
    except (sa.exc.DBAPIError, sa.exc.DisconnectionError) as error:
        if request.method not in ("GET", "HEAD") or not is_disconnect(error):
            raise
        db.session.remove()
        return work(*args, **kwargs)


def _retry_reads_once(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return retrying_reads(view, *args, **kwargs)

    return wrapper


def init_outage_handling(app: Flask) -> None:
    """Retry reads once and answer 503 while the database is away. Call it
    after every blueprint is registered."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retry_reads_once(view)
    app.register_error_handler(sa.exc.SQLAlchemyError, _database_unavailable)
