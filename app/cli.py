"""Core commands: ``flask plugins`` (what is loaded; ``flask plugins new``
writes a plugin package), ``flask events``, ``flask db`` (Flask-Migrate's,
with an ``upgrade`` of every branch that adopts EverShop's database) and
``flask evershop check``."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from alembic.util import CommandError
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate.cli import db as migrate_db_group


@click.group("plugins", invoke_without_command=True)
@click.pass_context
@with_appcontext  # also when invoked outside ``flask`` (the test CLI runner)
def plugins_command(ctx: click.Context) -> None:
    """List the plugins: where each comes from, what it requires, its hooks,
    its settings and its migrations (folder, head, and where the database is)."""
    if ctx.invoked_subcommand is not None:
        return
    pm = current_app.extensions["plugins"]
    branches = _plugin_migrations()
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            click.echo(f"{name} (blocked)")
            continue
        info = pm.info.get(name)
        if info is None:
            origin = "registered at run time"
        elif info.source == "entry point" and info.distribution:
            origin = f"entry point, {info.distribution} {info.version}, {info.module}"
        else:
            origin = f"{info.source}, {info.module}"
        click.echo(f"{name} ({origin})")
        if info is not None and info.requires:
            click.echo(f"  requires: {', '.join(info.requires)}")
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        click.echo(f"  hooks: {', '.join(hooks) or '(none)'}")
        for setting in current_app.extensions["plugin_settings"].get(name, []):
            value = setting.shown(current_app.config.get(setting.name))
            click.echo(f"  setting: {setting.name}={value}  {setting.help}".rstrip())
        if name in branches:
            click.echo(f"  migrations: {branches[name]}")


@plugins_command.command("new")
@click.argument("name")
@click.option(
    "--path",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The folder to write the package's folder into.",
)
def new_plugin(name: str, parent: Path) -> None:
    """Write the package of a new plugin NAME into PATH/evershop-NAME: its
    pyproject.toml with the entry point, a plugin module, a setting, a
    migration, and a test with the service's pytest fixtures. It installs
    with `pip install -e` and passes its tests as written."""
    from app import scaffold

    try:
        target = scaffold.generate(name, parent)
    except scaffold.ScaffoldError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {target}")
    click.echo(f"next: pip install -e {target} && (cd {target} && python -m pytest)")


def _plugin_migrations() -> dict[str, str]:
    """One line per plugin that ships migrations: folder, head, current."""
    from app import migrations
    from app.db import db

    folders = migrations.folders()
    if len(folders) == 1:
        return {}
    try:
        with db.engine.connect() as conn:
            states = {state.name: state for state in migrations.branch_states(conn)}
    except (sa.exc.SQLAlchemyError, CommandError) as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        return {
            name: f"{folder} (current unknown: {reason})"
            for name, folder in folders.items()
            if name != migrations.CORE
        }
    lines = {}
    for name, state in states.items():
        if state.plugin:
            head = ", ".join(state.heads) or "none"
            current = ", ".join(state.current) or "none"
            behind = "  (behind: run flask db upgrade)" if state.behind else ""
            lines[name] = f"{state.folder}  head {head}, current {current}{behind}"
    return lines


events_cli = AppGroup(
    "events",
    help="Deliver the events in the outbox, list them, and retry or purge the failed ones"
    ' (docs/operations.md, "The event worker").',
)


@events_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=100, show_default=True, help="Events per poll.")
@click.option(
    "--exit-with",
    type=int,
    metavar="PID",
    help="Stop when process PID, this one's parent, is gone (gunicorn's master passes its own).",
)
def run_events(once: bool, interval: float, batch: int, exit_with: int | None) -> None:
    """Deliver due events to their subscribers, retrying failures with backoff.

    Any number of these may run at once. While the database is away it waits
    and tries again, with one log line per outage; SIGTERM or SIGINT lets the
    batch in hand finish, then it exits with status 0.
    """
    from app.events import Worker

    Worker(interval=interval, batch=batch, exit_with=exit_with).run(once=once, echo=click.echo)


@events_cli.command("list")
@click.option("--name", help="Only the events of this type (e.g. customer_registered).")
@click.option("--limit", default=100, show_default=True, help="How many to list.")
def list_events(name: str | None, limit: int) -> None:
    """List the events in the outbox, oldest first: pending (waiting to be
    delivered or retried), leased (being delivered) and failed (given up).

    One line each: id, name, state, attempts, next attempt, and the first
    line of the last error. Delivered events leave the outbox.
    """
    from app.events import outbox_events

    rows = outbox_events(name, limit)
    if not rows:
        click.echo("no events" + (f" named {name}" if name else "") + " in the outbox")
        return
    for row in rows:
        error = (row["last_error"] or "").splitlines()
        click.echo(
            f"{row['event_outbox_id']}\t{row['name']}\t{row['state']}\t"
            f"attempts {row['attempts']}\tnext {_moment(row['next_attempt_at'])}\t"
            f"{error[0] if error else ''}".rstrip("\t")
        )


@events_cli.command("purge")
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    help="Delete events given up after EVENTS_MAX_AGE (the only kind that may be purged).",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Only those given up more than DAYS days ago.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_events(failed: bool, older_than: float | None, yes: bool) -> None:
    """Delete failed events from the outbox, after confirmation.

    Only events given up are deleted: they are never delivered again unless
    `flask events retry` sends them, so purging loses no delivery still to
    come. Pending and leased events are never purged.
    """
    from app.events import count_failed, purge_failed

    if not failed:
        raise click.UsageError("Say what to purge: --failed (events given up).")
    count = count_failed(older_than)
    since = f" given up more than {older_than:g} days ago" if older_than is not None else ""
    if count == 0:
        click.echo(f"no failed events{since}")
        return
    if not yes:
        click.confirm(f"Delete {count} failed event{'s' if count != 1 else ''}{since}?", abort=True)
    deleted = purge_failed(older_than)
    click.echo(f"deleted {deleted} failed event{'s' if deleted != 1 else ''}")


@events_cli.command("failed")
@click.option("--limit", default=100, show_default=True, help="How many to list.")
def list_failed_events(limit: int) -> None:
    """List the events given up after EVENTS_MAX_AGE, oldest first."""
    from app.events import failed_events

    rows = failed_events(limit)
    if not rows:
        click.echo("no failed events")
        return
    for row in rows:
        error = (row["last_error"] or "").splitlines()
        click.echo(
            f"{row['event_outbox_id']}\t{row['name']}\t{row['uuid']}\t"
            f"created {_moment(row['created_at'])}\tfailed {_moment(row['failed_at'])}\t"
            f"attempts {row['attempts']}\t{error[0] if error else ''}"
        )


@events_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Retry every failed event.")
def retry_failed_events(ids: tuple[int, ...], every: bool) -> None:
    """Send failed events (by id, or --all) again, with a fresh EVENTS_MAX_AGE."""
    from app.events import retry_failed

    if bool(ids) == every:
        raise click.UsageError("Give the ids of failed events, or --all.")
    count = retry_failed(None if every else list(ids))
    click.echo(f"{count} event{'s' if count != 1 else ''} will be sent again")


def _moment(value) -> str:
    from app.db import format_timestamp

    return format_timestamp(value) or "-"


# --- flask db ---------------------------------------------------------------------------------


@click.command("upgrade")
@click.option(
    "-d", "--directory", default=None, help='Migration script directory (default is "migrations")'
)
@click.option(
    "--sql", is_flag=True, help="Don't emit SQL to database - dump to standard output instead"
)
@click.option(
    "--tag", default=None, help='Arbitrary "tag" name - can be used by custom env.py scripts'
)
@click.option(
    "-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts"
)
@click.argument("revision", default="heads")
@with_appcontext
def upgrade_command(directory, sql, tag, x_arg, revision):
    """Upgrade to a later version: by default every branch's newest ("heads"),
    the core's and each plugin's. A database EverShop made is adopted, after
    the pre-flight check of `flask evershop check`; nothing is written when
    something would block the migration."""
    from flask import g

    from app import adoption, migrations

    try:
        migrations.upgrade(
            revision,
            sql=sql,
            tag=tag,
            x_arg=x_arg or getattr(g, "x_arg", None),
            directory=directory or getattr(g, "directory", None),
            echo=click.echo,
        )
    except adoption.AdoptionRefused as refused:
        raise click.ClickException(f"the database was not migrated:\n{refused}") from None
    except CommandError as error:  # Alembic's, or migrations.MigrationsError
        raise click.ClickException(str(error)) from None


def db_command() -> click.Group:
    """Flask-Migrate's ``db`` group, whose ``upgrade`` goes to every branch's head.

    A group of its own, holding Flask-Migrate's commands and options, rather
    than a change to Flask-Migrate's group, which every app in the process
    shares. Its ``upgrade`` goes to ``head``: one revision, which Alembic
    refuses once a plugin's migrations add a branch (docs/operations.md,
    "Migrating").
    """
    group = click.Group(
        name="db",
        callback=migrate_db_group.callback,
        params=list(migrate_db_group.params),
        help=migrate_db_group.help,
        commands=dict(migrate_db_group.commands),
    )
    group.add_command(upgrade_command)
    return group


# --- flask evershop -------------------------------------------------------------------------


evershop_cli = AppGroup("evershop", help="Adopting a database that EverShop made.")


@evershop_cli.command("check")
@click.option("--fix", is_flag=True, help="Resolve what can be resolved safely, and say what.")
def evershop_check(fix: bool) -> None:
    """The pre-flight check of `flask db upgrade` on EverShop's database: what
    would block the migration, and what behaves differently for EverShop's
    customers. Exits with status 1 while something blocks the migration."""
    from app import adoption
    from app.db import db, write_connection

    try:
        with db.engine.connect() as conn:
            kind = adoption.schema_kind(conn)
    except adoption.AdoptionRefused as refused:
        raise click.ClickException(str(refused)) from None
    if kind == adoption.EMPTY:
        click.echo("no EverShop customer tables in this database: nothing to check")
        return
    if fix:
        with write_connection() as conn:
            changes = adoption.fix(conn)
        for line in changes:
            click.echo(f"fixed: {line}")
        if not changes:
            click.echo("--fix: nothing it can resolve was found")
    with db.engine.connect() as conn:
        findings = adoption.check(conn)
    for line in adoption.report(findings):
        click.echo(line)
    if any(finding.blocking for finding in findings):
        raise SystemExit(1)
