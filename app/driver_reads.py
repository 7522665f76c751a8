"""Hot reads run on the driver's cursor, past SQLAlchemy's per-execution
work (docs/architecture.md, "Transactions and events").

A Core ``SELECT`` built once is compiled once per dialect. :func:`first` and
:func:`rows` then send its SQL on a psycopg cursor of the session's
connection and return psycopg's named tuples, which read like SQLAlchemy
rows (by column label, by index, unpacked). What is skipped is what
SQLAlchemy does per execution: an execution context, the compiled-cache
lookup, a result object and its metadata (docs/performance.md). What is kept:

* the session's autoflush: pending ORM changes are flushed first;
* the connection's events (``before_cursor_execute``, ``do_execute``,
  ``after_cursor_execute``), so the held rows of app/deferred_inserts.py are
  written before the read and the deferred ``BEGIN`` of app/lazy_begin.py
  goes with it;
* SQLAlchemy's error handling: a driver error is wrapped as for any other
  statement, a dropped connection recognised and the pool invalidated, the
  values never shown (``hide_parameters``).

An expanding ``IN`` (``bindparam(..., expanding=True)``) is sent as
``= ANY(array)``, the list bound as one array of the column's type. Rows'
fields are the columns' labels: label an expression read by name. What
:func:`_plan` turns down goes through ``Session.execute``, with the same
answer, and so does every read with ``DATABASE_DRIVER_READS`` off.

:func:`entity_columns` and :func:`loaded` read ORM objects the same way: the
mapped columns on the cursor, then instances put in the session as the ORM
would have loaded them (persistent, no history), without its loading
machinery. A row the session already holds is the object it holds, as the
ORM gives it; one whose values have expired is left to the ORM, which reads
them into it.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from psycopg.rows import namedtuple_row
from sqlalchemy.orm import make_transient_to_detached


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
    with cursor:  # closed after
        return cursor.fetchone()


def rows(session: sa.orm.Session, statement: sa.Select, params: dict) -> list:
    """Every row of ``statement`` with ``params``."""
    cursor = _run(session, statement, params)
    if cursor is None:
        return session.execute(statement, params).all()
    with cursor:  # closed after
        return cursor.fetchall()


def _run(session: sa.orm.Session, statement: sa.Select, params: dict):
    """A cursor that ran ``statement``, or None when SQLAlchemy must run it."""
    if isinstance(session, sa.orm.scoped_session):
        session = session()
    session._autoflush()  # what Session.execute does first
    connection = session.connection()
    if not current_app.config["DATABASE_DRIVER_READS"] or connection.engine.echo:
        return None  # switched off; or an echoing engine, which logs on its own path
    plan = _plan(statement, connection.dialect)
    if plan is None:
        return None
    values = {**plan.defaults, **params} if plan.defaults else params
    sql, context, cursor = plan.sql, _Context(connection), None
    try:
        cursor = connection.connection.dbapi_connection.cursor(row_factory=namedtuple_row)
        for listener in connection.dispatch.before_cursor_execute:
            sql, values = listener(connection, cursor, sql, values, context, False)
        for listener in connection.dialect.dispatch.do_execute:
            if listener(cursor, sql, values, context):
                break
        else:
            cursor.execute(sql, values)
        for listener in connection.dispatch.after_cursor_execute:
            listener(connection, cursor, sql, values, context, False)
    except BaseException as error:
        try:
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
        finally:
            if cursor is not None:
                cursor.close()
    return cursor


@dataclass(frozen=True)
class _Mapping:
    mapper: sa.orm.Mapper
    columns: tuple[sa.Column, ...]  # of the column attributes, in the mapper's order
    keys: tuple[str, ...]  # those attributes' names, in the same order
    primary: tuple[int, ...]  # where the primary key's values are among them


@functools.cache
def _mapping(model: type) -> _Mapping:
    mapper = sa.inspect(model)
    attributes = list(mapper.column_attrs)
    columns = tuple(attribute.columns[0] for attribute in attributes)
    primary = tuple(columns.index(column) for column in mapper.primary_key)
    return _Mapping(mapper, columns, tuple(a.key for a in attributes), primary)


def entity_columns(model: type) -> list[sa.Column]:
    """The columns of ``model``'s mapped attributes, in the order
    :func:`loaded` takes their values (select them labelled: two entities
    may share a column name)."""
    return list(_mapping(model).columns)


@functools.cache
def as_columns(statement: sa.Select, models: tuple[type, ...]) -> sa.Select:
    """``statement`` (an ORM select of ``models``' objects, built once)
    selecting their :func:`entity_columns` instead, labelled; built once."""
    columns = [column for model in models for column in entity_columns(model)]
    return statement.with_only_columns(*(c.label(f"c{i}") for i, c in enumerate(columns)))


def entities(session: sa.orm.Session, statement: sa.Select, params: dict) -> list:
    """The objects of ``statement``, an ORM select of one mapped class built
    once, with ``params``: its columns read with :func:`rows` and made into
    objects by :func:`loaded`; read by the ORM when the session holds one of
    those rows with expired values."""
    model = statement.column_descriptions[0]["entity"]
    found = []
    for row in rows(session, as_columns(statement, (model,)), params):
        made = loaded(session, (model,), row)
        if made is None:
            return list(session.scalars(statement, params))
        found.append(made[0])
    return found


def loaded(session: sa.orm.Session, models: tuple[type, ...], row) -> list | None:
    """The instances of ``models`` whose values ``row`` holds one after the
    other (each model's :func:`entity_columns`), put in ``session`` as
    persistent and unchanged, as if a query had loaded them; ``None`` for a
    model whose primary key is NULL (an outer join that found no row). A row
    the session holds already is the object it holds, as the ORM's query
    gives it; ``None`` in all when such an object has expired values: the
    ORM must read them into it."""
    if isinstance(session, sa.orm.scoped_session):
        session = session()
    found, start = [], 0
    for model in models:
        mapping = _mapping(model)
        values = row[start : start + len(mapping.keys)]
        start += len(mapping.keys)
        primary = tuple(values[index] for index in mapping.primary)
        if all(value is None for value in primary):
            found.append(None)
            continue
        held = session.identity_map.get(mapping.mapper.identity_key_from_primary_key(list(primary)))
        if held is not None:
            if sa.inspect(held).expired_attributes:
                return None
            found.append(held)
            continue
        found.append((mapping, values))
    instances = []
    for item in found:
        if not isinstance(item, tuple):  # no row, or the session's own object
            instances.append(item)
            continue
        mapping, values = item
        instance = mapping.mapper.class_manager.new_instance()
        # Straight into the instance's state, as the ORM's loading does: no history.
        instance.__dict__.update(zip(mapping.keys, values, strict=True))
        make_transient_to_detached(instance)
        session.add(instance)
        instances.append(instance)
    return instances


_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _read_as_is(type_: sa.types.TypeEngine, dialect: sa.Dialect) -> bool:
    """Whether SQLAlchemy takes the driver's value of a column of ``type_``
    as it comes. A number's conversion depends on the column's type in the
    result (a float to ``Decimal``), known only then: numbers never are."""
    if isinstance(type_, sa.Numeric):
        return False
    return type_.dialect_impl(dialect).result_processor(dialect, None) is None


def _selects_entities(statement: sa.Select) -> bool:
    return any(
        described.get("entity") is not None and described["expr"] is described["entity"]
        for described in statement.column_descriptions
    )


@functools.cache
def _plan(statement: sa.Select, dialect: sa.Dialect) -> _Plan | None:
    """The SQL of ``statement`` for psycopg, or None when it must go through
    SQLAlchemy: another driver, ORM objects, a value or column its type
    converts, a value computed at execution, a column whose label is a
    Python keyword (not a named tuple's field)."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    if _selects_entities(statement):
        return None
    compiled = statement.compile(dialect=dialect)
    if compiled.escaped_bind_names:
        return None
    for column in compiled._result_columns:
        if not _read_as_is(column.type, dialect) or keyword.iskeyword(column.keyname):
            return None
    defaults, arrays = {}, {}
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:
            return None
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            if processor is not None:
                return None  # the caller's value would need converting
            if bind.expanding:
                # One array of the column's type: one prepared statement
                # whatever the values, and the casts SQLAlchemy would write.
                arrays[name] = dialect.type_compiler_instance.process(bind.type) + "[]"
        else:  # the statement's own literal: converted once, here
            defaults[name] = processor(bind.value) if processor else bind.value

    def any_(match: re.Match) -> str:
        negated, name = match.groups()
        array = f"%({name})s::{arrays[name]}"
        return f"<> ALL({array})" if negated else f"= ANY({array})"

    try:
        sql = _EXPANDING.sub(any_, compiled.string)
    except KeyError:  # an expanding bind given a value in the statement
        return None
    if "__[POSTCOMPILE_" in sql:
        return None  # a value rendered into the SQL at execution: SQLAlchemy's job
    return _Plan(sql, defaults)
