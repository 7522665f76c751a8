"""Probes for the process manager and the load balancer, outside ``/api``.

* ``GET /healthz``: the process answers (liveness). It touches nothing else, so
  a database outage never gets healthy processes restarted.
* ``GET /readyz``: the process can serve (readiness): the database answers and
  its schema is at the head of every branch of the migrations — the core's
  and each plugin's (:mod:`app.migrations`). Otherwise 503 in the error
  envelope, with the reason, naming a plugin whose migrations are behind.
  Each probe opens a connection of its own, with a short connect timeout, so
  the answer comes quickly when the database is down and reflects its return
  at once, without a restart.

Neither takes a token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.util import CommandError
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy.pool import NullPool

from app import migrations
from app.db import db
from app.errors import error_response

# Seconds to wait for PostgreSQL to accept a connection, and for the query.
CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 3000

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify({"data": {"status": "ok"}})


@blueprint.get("/readyz")
def readyz():
    try:
        script = migrations.script_directory()
    except migrations.MigrationsError as error:
        return error_response(503, f"migrations unusable: {error}")
    except CommandError as error:
        return error_response(503, f"migrations not found: {error}")
    try:
        conn = _probe_engine().connect()
    except sa.exc.SQLAlchemyError as error:
        return error_response(503, f"database unreachable: {_reason(error)}")
    with conn:
        try:
            if conn.dialect.name == "postgresql":
                # SET LOCAL rather than a startup option: PgBouncer refuses those.
                conn.execute(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            states = migrations.branch_states(conn, script)
        except sa.exc.SQLAlchemyError as error:
            return error_response(503, f"migration state unreadable: {_reason(error)}")
    behind = [_behind(state) for state in states if state.behind]
    if behind:
        return error_response(503, "; ".join(behind))
    data = {"status": "ready", "revision": _revisions(states[0].heads)}
    plugins = {state.name: _revisions(state.heads) for state in states if state.plugin}
    if plugins:
        data["plugins"] = plugins
    return jsonify({"data": data})


def _revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "none"


def _behind(state: migrations.BranchState) -> str:
    """Why a branch is not ready: where the database is, and the head."""
    whose = f"migrations of plugin {state.name}" if state.plugin else "migrations"
    return f"{whose} not at head: at {_revisions(state.current)}, head is {_revisions(state.heads)}"


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
