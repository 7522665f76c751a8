"""Probes for the process manager and the load balancer, outside ``/api``.

* ``GET /healthz``: the process answers (liveness). It touches nothing else, so
  a database outage never gets healthy processes restarted.
* ``GET /readyz``: the process can serve (readiness): the database answers and
  its schema is at the head revision of ``migrations/``. Otherwise 503 in the
  error envelope, with the reason. Each probe opens a connection of its own,
  with a short connect timeout, so the answer comes quickly when the database
  is down and reflects its return at once, without a restart.

Neither takes a token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy.pool import NullPool

from app.db import db
from app.errors import error_response

# Seconds to wait for PostgreSQL to accept a connection, and for the query.
CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 3000
# Where Alembic records the revision a database is at.
VERSION_TABLE = "alembic_version"

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify({"data": {"status": "ok"}})


@blueprint.get("/readyz")
def readyz():
    try:
        heads = _heads()
    except CommandError as error:
        return error_response(503, f"migrations not found: {error}")
    head = ", ".join(heads) or "none"
    try:
        conn = _probe_engine().connect()
    except sa.exc.SQLAlchemyError as error:
        return error_response(503, f"database unreachable: {_reason(error)}")
    with conn:
        try:
            current = ", ".join(_current_revisions(conn)) or "none"
        except sa.exc.SQLAlchemyError as error:
            return error_response(503, f"migration state unreadable: {_reason(error)}")
    if current != head:
        return error_response(503, f"migrations not at head: at {current}, head is {head}")
    return jsonify({"data": {"status": "ready", "revision": head}})


def _heads() -> tuple[str, ...]:
    """The head revisions of the migrations this code ships with (read once)."""
    state = current_app.extensions.setdefault("health", {})
    if "heads" not in state:
        config = Config()
        config.set_main_option("script_location", current_app.extensions["migrate"].directory)
        state["heads"] = tuple(sorted(ScriptDirectory.from_config(config).get_heads()))
    return state["heads"]


def _current_revisions(conn: sa.Connection) -> tuple[str, ...]:
    """The revisions the database is stamped with (none on an empty database)."""
    if conn.dialect.name == "postgresql":
        # SET LOCAL rather than a startup option: PgBouncer refuses those.
        conn.execute(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return ()
    return tuple(sorted(conn.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))))


def _probe_engine() -> sa.Engine:
    """An engine for the probe alone, without a pool, so that every probe asks
    the database afresh; on PostgreSQL with short connect and statement
    timeouts. An in-memory SQLite database exists only in the app's own engine."""
    engine = db.engine
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine
    state = current_app.extensions.setdefault("health", {})
    if "engine" not in state:
        connect_args = dict(
            (current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("connect_args", {})
        )
        if engine.dialect.name == "postgresql":
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        state["engine"] = sa.create_engine(
            engine.url, poolclass=NullPool, connect_args=connect_args
        )
    return state["engine"]


def _reason(error: sa.exc.SQLAlchemyError) -> str:
    """The driver's own words, on one line, without the URL's password."""
    text = " ".join(str(getattr(error, "orig", None) or error).split())
    password = db.engine.url.password
    if password:
        text = text.replace(str(password), "***")
    return text or type(error).__name__


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
