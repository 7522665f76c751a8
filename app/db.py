"""The database handle, column types that read the same on PostgreSQL and
SQLite, and the transaction helper that services use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase

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


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


# jsonb on PostgreSQL (EverShop's type), JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


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


@contextmanager
def transaction() -> Iterator[sa.orm.Session]:
    """Run the block in one transaction: commit at the end, roll back on any error.

    Events emitted inside the block are handed for delivery after the commit.
    """
    from app import events

    session = db.session
    try:
        yield session
        session.flush()
        emitted = events.take_emitted(session)
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop("emitted_events", None)
        raise
    events.dispatcher().committed(emitted)
