"""Rows that a write inserts but does not read back (the event's outbox row,
the timeline's entry), and updates of a locked row (:func:`update_later`),
sent with the write's ``COMMIT`` instead of one round trip each
(docs/architecture.md, "Inserts sent with the commit").

On PostgreSQL :func:`insert_later` holds the rows on the transaction's
connection. Before any other statement of that transaction they are written
(so a later read, update, delete or savepoint sees them as if inserted at
once); if nothing else is sent, :func:`commit` sends them in the same
simple-protocol message as the ``COMMIT``. A rollback drops them. On
SQLite they are inserted at once.

The values are bound on the client (psycopg's ``ClientCursor.mogrify``, which
quotes them with libpq), since PostgreSQL takes several statements in one
message only without parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.lazy_begin import take_begin

_HELD = "deferred_inserts"
_RETURNED = "deferred_inserts_returned"
# The execution option that marks the message carrying held rows.
CARRIES_HELD = "carries_deferred_inserts"


@dataclass
class _Held:
    table: sa.Table
    columns: tuple[str, ...]
    rows: list[dict]
    returning: str | None


def insert_later(
    connection: sa.Connection, table: sa.Table, rows: Sequence[dict], returning: str | None = None
) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the
    transaction of ``connection``, at the latest with its commit.

    Rows of one table (and the same keys) go in one statement, tables in the
    order their first rows were held: a row that refers to another held row
    needs that row's table to have been held first. Columns a row leaves out
    take their server default; a column with a Python-side default must be
    given. ``returning`` names one column whose values :func:`take_returned`
    gives after the rows were written (the outbox's ids); only one table of a
    transaction may ask for it, and its rows are written first.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    _check_columns(table, columns)
    if connection.dialect.name != "postgresql":
        statement = sa.insert(table)
        if returning:
            statement = statement.returning(table.c[returning])
            returned = connection.execute(statement, list(rows)).scalars().all()
            connection.info.setdefault(_RETURNED, []).extend(returned)
        else:
            connection.execute(statement, list(rows))
        return
    held = connection.info.setdefault(_HELD, [])
    for item in held:
        if isinstance(item, _HeldUpdate):
            continue
        if item.table is table and item.columns == columns and item.returning == returning:
            item.rows.extend(rows)
            break
        if returning and item.returning and item.table is not table:
            raise ValueError("only one table of a transaction may ask for returned values")
    else:
        held.append(_Held(table, columns, list(rows), returning))


@dataclass
class _HeldUpdate:
    table: sa.Table
    columns: tuple[str, ...]  # set
    keys: tuple[str, ...]  # the primary key, in the WHERE clause
    values: tuple  # the columns' values, then the keys'
    returning = None


def update_later(session: sa.orm.Session, row) -> None:
    """Write the unflushed changes of ``row`` (an ORM object already in the
    database) as one ``UPDATE`` by its primary key, in the session's
    transaction, at the latest with its commit: on PostgreSQL it is held as
    :func:`insert_later` holds rows (sent before any other statement, or with
    the ``COMMIT``), elsewhere the session is flushed. ``row`` then counts as
    written; columns the database sets on update (``server_onupdate``) are
    expired, to be read again if asked for. The statement's row count is not
    checked: lock the row first (``FOR UPDATE``), so that it is there."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.flush()
        return
    state = sa.inspect(row)
    mapper = state.mapper
    changed = {}
    for prop in mapper.column_attrs:
        added = state.attrs[prop.key].history.added
        if added:
            changed[prop] = added[0]
    if not changed:
        return
    table = mapper.local_table
    columns = tuple(prop.columns[0].name for prop in changed)
    keys = tuple(column.name for column in mapper.primary_key)
    identity = tuple(mapper.primary_key_from_instance(row))
    connection.info.setdefault(_HELD, []).append(
        _HeldUpdate(table, columns, keys, (*changed.values(), *identity))
    )
    for prop, value in changed.items():
        set_committed_value(row, prop.key, value)
    if not state.session.in_nested_transaction() and not any(
        state.attrs[key].history.has_changes() for key in state.committed_state
    ):
        # Nothing else of the row is pending (a value set again to what it
        # was is no change): mark it clean, so that the commit's flush does
        # not walk a unit of work that has nothing to write (about 0.2 ms,
        # docs/performance.md). Not in a savepoint: its rollback expires
        # only the rows still marked as changed.
        state._commit_all(state.dict, session.identity_map)
    fetched = [p.key for p in mapper.column_attrs if p.columns[0].server_onupdate is not None]
    if fetched:
        session.expire(row, fetched)


def take_returned(connection: sa.Connection) -> list:
    """The values of the ``returning`` column of the rows written so far in
    this transaction (and forget them)."""
    return connection.info.pop(_RETURNED, [])


def commit(connection: sa.Connection) -> None:
    """Send the held rows' inserts and ``COMMIT`` in one message; the
    session's own commit then finds the transaction over (psycopg sends
    nothing for it). Without held rows, do nothing.

    A database error names the statements with placeholders, never their
    values (the engine's ``hide_parameters``)."""
    held = connection.info.pop(_HELD, None)
    if not held:
        return
    sql, shown = _render(connection, held)
    try:
        result = connection.exec_driver_sql(
            f"{sql};\nCOMMIT", execution_options={"no_parameters": True, CARRIES_HELD: True}
        )
    except sa.exc.StatementError as error:
        error.statement = f"{shown};\nCOMMIT"
        raise
    if result.returns_rows:
        connection.info.setdefault(_RETURNED, []).extend(result.scalars().all())


def drop_held(connection: sa.Connection) -> None:
    connection.info.pop(_HELD, None)
    connection.info.pop(_RETURNED, None)


# --- rendering ---------------------------------------------------------------------------


@functools.cache
def _python_defaults(table: sa.Table) -> frozenset[str]:
    return frozenset(
        column.name
        for column in table.columns
        if column.default is not None and not column.default.is_sequence
    )


def _check_columns(table: sa.Table, columns: tuple[str, ...]) -> None:
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    missing = _python_defaults(table) - set(columns)
    if missing:
        raise ValueError(f"give {table.name}.{', '.join(sorted(missing))} (a Python-side default)")


@functools.cache
def _template(table: sa.Table, columns: tuple[str, ...], returning: str | None, dialect) -> tuple:
    """``INSERT INTO table (columns) VALUES`` and its tail, and the bind
    processor of each column (JSON into psycopg's Jsonb, for instance)."""
    quote = dialect.identifier_preparer
    # A value given for an identity column (one taken with nextval first,
    # say) is written as given, also where the column is GENERATED ALWAYS.
    overriding = any(table.c[name].identity is not None for name in columns)
    head = (
        f"INSERT INTO {quote.format_table(table)} "
        f"({', '.join(quote.quote(name) for name in columns)}) "
        f"{'OVERRIDING SYSTEM VALUE ' if overriding else ''}VALUES "
    )
    tail = f" RETURNING {quote.quote(returning)}" if returning else ""
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    )
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return head, tail, processors, placeholders


@functools.cache
def _update_template(table: sa.Table, columns: tuple, keys: tuple, dialect) -> tuple:
    """``UPDATE table SET column = %s, … WHERE key = %s`` and the bind
    processor of each value, the columns' then the keys'."""
    quote = dialect.identifier_preparer
    assignments = ", ".join(f"{quote.quote(name)} = %s" for name in columns)
    where = " AND ".join(f"{quote.quote(name)} = %s" for name in keys)
    sql = f"UPDATE {quote.format_table(table)} SET {assignments} WHERE {where}"
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in (*columns, *keys)
    )
    return sql, processors


def _render(connection: sa.Connection, held: list) -> tuple[str, str]:
    """The held rows' inserts with their values quoted in, and the same
    statements with placeholders (for error messages)."""
    from psycopg import ClientCursor

    dialect = connection.dialect
    quoting = ClientCursor(connection.connection.dbapi_connection)
    statements, shown = [], []
    # Rows whose values come back go first: only the first result is read.
    for item in sorted(held, key=lambda item: item.returning is None):
        if isinstance(item, _HeldUpdate):
            sql, processors = _update_template(item.table, item.columns, item.keys, dialect)
            values = [
                processor(value) if processor else value
                for value, processor in zip(item.values, processors, strict=True)
            ]
            statements.append(quoting.mogrify(sql, values))
            shown.append(sql)
            continue
        head, tail, processors, placeholders = _template(
            item.table, item.columns, item.returning, dialect
        )
        values = []
        for row in item.rows:
            for name, processor in zip(item.columns, processors, strict=True):
                value = row[name]
                values.append(processor(value) if processor else value)
        sql = head + ", ".join([placeholders] * len(item.rows)) + tail
        statements.append(quoting.mogrify(sql, values))
        shown.append(sql)
    return ";\n".join(statements), ";\n".join(shown)


def _write_now(conn: sa.Connection) -> None:
    """Write the held rows in a message of their own (no COMMIT)."""
    sql, _ = _render(conn, conn.info.pop(_HELD))
    begin = take_begin(conn.info)  # a transaction whose first statement this is
    with conn.connection.dbapi_connection.cursor() as raw:
        raw.execute(begin + sql)
        if begin:
            raw.nextset()
        if raw.description is not None:
            conn.info.setdefault(_RETURNED, []).extend(row[0] for row in raw.fetchall())


# --- written before anything else, dropped with a rollback ----------------------------


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _write_before_other_statements(conn, cursor, statement, parameters, context, executemany):
    # An error here reaches the caller as the next statement's, wrapped by
    # SQLAlchemy; the database's own message names the table and constraint.
    if conn.info.get(_HELD) and not context.execution_options.get(CARRIES_HELD):
        _write_now(conn)


@sa.event.listens_for(sa.engine.Engine, "commit")
def _write_before_a_plain_commit(conn):
    # A commit that did not go through commit() (a session committed outside
    # app.transactions.transaction): the rows still go before it.
    if conn.info.get(_HELD):
        _write_now(conn)


@sa.event.listens_for(sa.engine.Engine, "rollback")
def _drop_on_rollback(conn):
    # An invalidated connection's info goes with its DBAPI connection.
    if not conn.invalidated:
        drop_held(conn)


@sa.event.listens_for(sa.pool.Pool, "checkin")
def _drop_on_checkin(dbapi_connection, record):
    record.info.pop(_HELD, None)
    record.info.pop(_RETURNED, None)
