"""Wires the session plugin into the service: the revocation endpoints, their
hook and their event."""

from __future__ import annotations

from app.plugins import hookimpl

# Revoking every token of a customer goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_blueprints():
    from plugins.session.routes import blp

    return [blp]


@hookimpl
def register_hookspecs():
    from plugins.session import hookspecs

    return hookspecs


@hookimpl
def register_events():
    from plugins.session.events import EVENTS

    return EVENTS
