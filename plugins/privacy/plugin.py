"""Wires the privacy plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl

# Customers are this plugin's subject: it goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_settings():
    from plugins.privacy.settings import SETTINGS

    return SETTINGS


@hookimpl
def register_hookspecs():
    from plugins.privacy import hookspecs

    return hookspecs


@hookimpl
def register_blueprints():
    from plugins.privacy.routes import blp

    return [blp]


@hookimpl
def register_events():
    from plugins.privacy.events import EVENTS

    return EVENTS


@hookimpl
def register_mail_templates():
    from plugins.privacy.mail import TEMPLATES

    return TEMPLATES


@hookimpl
def subscribe():
    from plugins.privacy.events import CUSTOMER_ERASURE_REQUESTED
    from plugins.privacy.service import on_erasure_requested

    return {CUSTOMER_ERASURE_REQUESTED.name: on_erasure_requested}


# After the customer plugin made the ``customers`` group: the command joins it.
@hookimpl(trylast=True)
def register_commands(cli):
    from flask.cli import AppGroup

    from plugins.privacy.cli import export_one

    group = cli.commands.get("customers")
    if group is None:
        group = AppGroup("customers", help="Manage customers.")
        cli.add_command(group)
    group.add_command(export_one)
