"""Core commands: ``flask plugins`` lists what is loaded."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


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
