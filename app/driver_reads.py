"""Hot reads run on the driver's cursor, past SQLAlchemy's per-execution
work (docs/architecture.md, "Reads on the driver's cursor").

A Core ``SELECT`` built once is compiled once per dialect. :func:`first` and
:func:`rows` then send its SQL on a psycopg cursor of the session's
connection and return psycopg's named tuples, which read like SQLAlchemy
rows (by column label, by index, unpacked). What is skipped is what
SQLAlchemy does per execution: an execution context, the compiled-cache
lookup, a result object and its metadata, about 0.1 ms a statement
(docs/performance.md). What is kept:

* the session's autoflush: pending ORM changes are flushed first;
* the connection's events (``before_cursor_execute``, ``do_execute``), so
  the held rows of app/deferred_inserts.py are written before the read and
  the deferred ``BEGIN`` of app/lazy_begin.py goes with it;
* SQLAlchemy's error handling: a driver error is wrapped as for any other
  statement, a dropped connection recognised and the pool invalidated, the
  values never shown (``hide_parameters``).

An expanding ``IN`` (``bindparam(..., expanding=True)``) is sent as
``= ANY(array)``, the list bound as one array. A statement whose values or
columns need SQLAlchemy's own conversion (a bind or result processor of
their type), and every database but PostgreSQL, goes through
``Session.execute`` instead, with the same answer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from psycopg.rows import namedtuple_row


@dataclass(frozen=True)
class _Plan:
    sql: str
    defaults: dict  # the values of the statement's own literals


@dataclass
class _Context:
    """What the engine's event listeners read of an execution context: its
    connection and execution options (none)."""

    root_connection: sa.Connection
    execution_options: dict = field(default_factory=dict)


def first(session: sa.orm.Session, statement: sa.Select, params: dict):
    """The first row of ``statement`` (a Core select built once) with
    ``params``, or None."""
    cursor = _run(session, statement, params)
    if cursor is None:
        return session.execute(statement, params).first()
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def rows(session: sa.orm.Session, statement: sa.Select, params: dict) -> list:
    """Every row of ``statement`` with ``params``."""
    cursor = _run(session, statement, params)
    if cursor is None:
        return session.execute(statement, params).all()
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _run(session: sa.orm.Session, statement: sa.Select, params: dict):
    """A cursor that ran ``statement``, or None when SQLAlchemy must run it."""
    if session.autoflush:
        session.flush()  # nothing to do, and cheap, when nothing is pending
    connection = session.connection()
    plan = _plan(statement, connection.dialect)
    if plan is None:
        return None
    values = {**plan.defaults, **params} if plan.defaults else params
    cursor = connection.connection.dbapi_connection.cursor(row_factory=namedtuple_row)
    sql, context = plan.sql, _Context(connection)
    try:
        for listener in connection.dispatch.before_cursor_execute:
            sql, values = listener(connection, cursor, sql, values, context, False)
        for listener in connection.dialect.dispatch.do_execute:
            if listener(cursor, sql, values, context):
                break
        else:
            cursor.execute(sql, values)
    except BaseException as error:
        try:
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
        finally:
            cursor.close()
    return cursor


_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _any(match: re.Match) -> str:
    negated, name = match.groups()
    return f"<> ALL(%({name})s)" if negated else f"= ANY(%({name})s)"


def _read_as_is(type_: sa.types.TypeEngine, dialect: sa.Dialect) -> bool:
    """Whether SQLAlchemy takes the driver's value of a column of ``type_``
    as it comes. A number's conversion depends on the column's type in the
    result (a float to ``Decimal``), known only then: numbers never are."""
    if isinstance(type_, sa.Numeric):
        return False
    return type_.dialect_impl(dialect).result_processor(dialect, None) is None


@functools.cache
def _plan(statement: sa.Select, dialect: sa.Dialect) -> _Plan | None:
    """The SQL of ``statement`` for psycopg, or None when it must go through
    SQLAlchemy (another driver; a value or column its type converts)."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    compiled = statement.compile(dialect=dialect)
    for column in compiled._result_columns:
        if not _read_as_is(column.type, dialect):
            return None
    sql = _EXPANDING.sub(_any, compiled.string)
    if "__[POSTCOMPILE_" in sql:
        return None  # a value rendered into the SQL at execution: SQLAlchemy's job
    defaults = {}
    for bind, name in compiled.bind_names.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            if processor is not None:
                return None  # the caller's value would need converting
        else:  # the statement's own literal: converted once, here
            value = bind.effective_value
            defaults[name] = processor(value) if processor else value
    return _Plan(sql, defaults)
