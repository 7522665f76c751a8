"""Core commands: ``flask plugins`` lists what is loaded."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext


@click.command("plugins")
@with_appcontext  # also when invoked outside ``flask`` (the test CLI runner)
def plugins_command() -> None:
    """List the loaded plugins and the hooks each implements."""
    pm = current_app.extensions["plugins"]
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(impl_name for impl_name in _hooks_of(pm, plugin))
        click.echo(f"{name}: {', '.join(hooks) or '(no hooks)'}")


def _hooks_of(pm, plugin):
    for caller in pm.get_hookcallers(plugin) or []:
        yield caller.name


events_cli = AppGroup("events", help="Deliver the events in the outbox, and see the failed ones.")


@events_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=100, show_default=True, help="Events per poll.")
def run_events(once: bool, interval: float, batch: int) -> None:
    """Deliver due events to their subscribers, retrying failures with backoff.

    Any number of these may run at once. While the database is away it waits
    and tries again, with one log line per outage; SIGTERM or SIGINT lets the
    batch in hand finish, then it exits with status 0.
    """
    from app.events import Worker

    Worker(interval=interval, batch=batch).run(once=once, echo=click.echo)


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
