"""Core commands: ``flask plugins`` lists what is loaded."""

from __future__ import annotations

import time

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


events_cli = AppGroup("events", help="Deliver the events in the outbox.")


@events_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=100, show_default=True, help="Events per poll.")
def run_events(once: bool, interval: float, batch: int) -> None:
    """Deliver due events to their subscribers, retrying failures with backoff.

    Any number of these may run at once against PostgreSQL.
    """
    from app.events import deliver

    while True:
        report = deliver(limit=batch)
        if report.delivered or report.failed:
            click.echo(f"delivered {report.delivered}, failed {report.failed}")
        if once:
            return
        if len(report.ids) < batch:
            time.sleep(interval)
