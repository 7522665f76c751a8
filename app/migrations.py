"""The database's migrations: the core's and every plugin's, in one Alembic
environment (docs/operations.md, "Migrating"; docs/plugins.md, "Tables and
migrations").

The core's revisions are in ``migrations/versions``, a branch labelled
``core``. A plugin hands the core a folder of its own through the
``register_migrations`` hook; its revisions form a branch labelled with the
plugin's name, whose first revision ``depends_on`` the core revision it needs.
Every folder is one of Alembic's ``version_locations``, so:

* :func:`upgrade` — ``flask db upgrade`` — goes to ``heads``, the newest
  revision of every branch. (Flask-Migrate's own command goes to ``head``,
  which Alembic refuses as soon as a plugin adds a branch.) It also adopts a
  database that EverShop made, after the pre-flight check of
  :mod:`app.adoption`;
* :func:`branch_states` says how far the database is along each branch, for
  ``/readyz`` and ``flask plugins``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError, to_tuple
from flask import Flask, current_app, has_app_context

from app import adoption
from app.config import ConfigError
from app.db import migrate, write_connection
from app.plugins import contributions

log = logging.getLogger(__name__)

CORE = "core"
# Where Alembic records the revisions a database is at.
VERSION_TABLE = "alembic_version"
# Any number: keeps two `flask db upgrade` runs on one PostgreSQL database
# from migrating at the same time (the second waits, then finds less to do).
UPGRADE_LOCK = 0x4D494752  # "MIGR"


class MigrationsError(CommandError):
    """The migrations cannot be used as they are; the message says why."""


@dataclass(frozen=True)
class BranchState:
    """How far the database is along one branch of the migrations."""

    name: str  # "core", or the plugin's name
    folder: Path
    heads: tuple[str, ...]  # its newest revisions (one, unless it forks)
    current: tuple[str, ...]  # its newest revisions the database has; () when none

    @property
    def plugin(self) -> bool:
        return self.name != CORE

    @property
    def behind(self) -> bool:
        return self.current != self.heads


# --- where the revisions are -----------------------------------------------------------


def init_app(app: Flask) -> None:
    """Read every plugin's ``register_migrations`` folder; a plugin that
    returns anything but one existing folder stops start-up, named."""
    folders: dict[str, Path] = {}
    for plugin, values in contributions(app.extensions["plugins"], "register_migrations").items():
        if len(values) != 1:
            raise ConfigError(
                f"plugin {plugin!r}: register_migrations returned {len(values)} folders;"
                " a plugin ships one folder of revisions"
            )
        folder = Path(values[0]).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(
                f"plugin {plugin!r}: register_migrations returned {folder}, which is not a folder"
            )
        if plugin == CORE:
            raise ConfigError(f"a plugin may not be named {CORE!r}: the core's branch is")
        folders[plugin] = folder
    app.extensions["migrations"] = {"plugins": folders}


def core_folder() -> Path:
    return Path(current_app.extensions["migrate"].directory).resolve() / "versions"


def folders() -> dict[str, Path]:
    """Every branch's folder by name: the core's first, then the plugins' in load order."""
    return {CORE: core_folder(), **current_app.extensions["migrations"]["plugins"]}


def _configure(config: Config) -> Config:
    """Flask-Migrate's configure callback: every branch's folder is a version location."""
    if has_app_context() and "migrations" in current_app.extensions:
        locations = os.pathsep.join(str(folder) for folder in folders().values())
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", locations.replace("%", "%%"))
    return config


migrate.configure(_configure)


def alembic_config(directory: str | None = None, x_arg=None) -> Config:
    """The Alembic configuration ``flask db`` commands use, plugins' folders included."""
    return current_app.extensions["migrate"].migrate.get_config(directory, x_arg=x_arg)


def script_directory() -> ScriptDirectory:
    """Every branch's revisions, checked (read once per app)."""
    state = current_app.extensions["migrations"]
    if "script" not in state:
        script = ScriptDirectory.from_config(alembic_config())
        _check_branches(script)
        state["script"] = script
    return state["script"]


def _folder_of(revision) -> Path:
    return Path(revision.path).resolve().parent


def _branch_revisions(script: ScriptDirectory) -> dict[str, list]:
    by_folder = {folder: name for name, folder in folders().items()}
    found: dict[str, list] = {name: [] for name in by_folder.values()}
    for revision in script.walk_revisions():
        found[by_folder[_folder_of(revision)]].append(revision)
    return found


def _check_branches(script: ScriptDirectory) -> None:
    """A plugin's revisions stay on its own branch: its first one carries a
    branch label (the plugin's name; loaded through ``PLUGINS`` a plugin is
    named by its module, so the label is not required to match), and none
    revises a revision of another folder (the core revision it needs goes in
    ``depends_on``)."""
    for name, revisions in _branch_revisions(script).items():
        if name == CORE:
            continue
        ids = {revision.revision for revision in revisions}
        for revision in revisions:
            downs = to_tuple(revision.down_revision, default=())
            outside = [down for down in downs if down not in ids]
            if outside:
                raise MigrationsError(
                    f"plugin {name!r}: revision {revision.revision} revises {', '.join(outside)},"
                    " outside the plugin's folder; name the core revision it needs in depends_on"
                )
            if not downs and not revision.branch_labels:
                raise MigrationsError(
                    f"plugin {name!r}: revision {revision.revision} starts the plugin's branch"
                    " and must carry a branch label, the plugin's name:"
                    f" branch_labels = ({name!r},)"
                )


# --- where the database is --------------------------------------------------------------


def current_revisions(conn: sa.Connection) -> tuple[str, ...]:
    """The revisions the database is stamped with (none on an empty database)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return ()
    return tuple(sorted(conn.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))))


def branch_states(conn: sa.Connection, script: ScriptDirectory | None = None) -> list[BranchState]:
    """Each branch's heads and the newest of its revisions the database has
    (see :func:`_applied`)."""
    script = script or script_directory()
    applied = _applied(conn, script)
    return [
        BranchState(
            name=name,
            folder=folders()[name],
            heads=_newest(revisions),
            current=_newest([r for r in revisions if r.revision in applied]),
        )
        for name, revisions in _branch_revisions(script).items()
    ]


def _applied(conn: sa.Connection, script: ScriptDirectory) -> set[str]:
    """The revisions the database has: those it is stamped with, and every
    one they need (through ``down_revision`` or ``depends_on``). Stamped
    revisions that no loaded folder has (a plugin removed) are left out."""
    known = [rev for rev in current_revisions(conn) if _known(script, rev)]
    return {
        revision.revision
        for revision in script.revision_map.iterate_revisions(
            tuple(known), "base", inclusive=True, implicit_base=True
        )
    }


def _newest(revisions: list) -> tuple[str, ...]:
    """Those of ``revisions`` that no other of them revises."""
    ids = {revision.revision for revision in revisions}
    return tuple(sorted(r.revision for r in revisions if not set(r.nextrev) & ids))


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _check_known(conn: sa.Connection, script: ScriptDirectory) -> None:
    unknown = [rev for rev in current_revisions(conn) if not _known(script, rev)]
    if unknown:
        raise MigrationsError(
            f"the database is at revision {', '.join(unknown)}, which none of the loaded"
            " migrations has: a plugin with migrations was removed or blocked? Load it again"
            " and run `flask db downgrade <plugin>@base`, or delete that row of"
            f" {VERSION_TABLE} if its tables may stay"
        )


# --- upgrading ----------------------------------------------------------------------------


def upgrade(
    revision: str = "heads",
    *,
    sql: bool = False,
    tag: str | None = None,
    x_arg=None,
    directory: str | None = None,
    echo: Callable[[str], None] = log.info,
) -> None:
    """Bring the database to ``revision`` — by default every branch's newest.

    Side effects, in one transaction (PostgreSQL migrates transactionally, so
    a failure leaves nothing behind): on PostgreSQL a lock that makes a second
    upgrade wait; a database that EverShop made is adopted — the pre-flight
    check of :mod:`app.adoption` first, then ``stamp 0001``, EverShop's schema.
    The check also runs while revision 0002's unique indexes are still to
    come. Raises :class:`app.adoption.AdoptionRefused`, with the findings,
    before writing anything when something would block the migration;
    :class:`MigrationsError` when the database is at a revision no loaded
    folder has. ``sql`` prints the SQL instead (no adoption then).
    """
    config = alembic_config(directory, x_arg)
    if sql:
        command.upgrade(config, revision, sql=True, tag=tag)
        return
    script = ScriptDirectory.from_config(config)
    if directory is None:
        _check_branches(script)
    with write_connection() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        _check_known(conn, script)
        kind = adoption.schema_kind(conn)
        if kind == adoption.EVERSHOP or (
            kind == adoption.MANAGED and adoption.PREFLIGHT_UNTIL not in _applied(conn, script)
        ):
            findings = adoption.check(conn)
            if any(finding.blocking for finding in findings):
                raise adoption.AdoptionRefused(findings)
            for line in adoption.report(findings):
                echo(line)
        config.attributes["connection"] = conn
        if kind == adoption.EVERSHOP:
            echo(
                "EverShop's customer tables found, without this service's migrations:"
                f" adopting them (stamp {adoption.ADOPTED_REVISION}, EverShop's schema)"
            )
            command.stamp(config, adoption.ADOPTED_REVISION, tag=tag)
        command.upgrade(config, revision, tag=tag)
