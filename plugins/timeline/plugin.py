"""Wires the timeline plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl

# Customers are this plugin's subject: it goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_hookspecs():
    from plugins.timeline import hookspecs

    return hookspecs


@hookimpl
def register_blueprints():
    from plugins.timeline.routes import blp

    return [blp]


@hookimpl
def register_events():
    from plugins.timeline.events import EVENTS

    return EVENTS


@hookimpl
def register_graphql(audience):
    from plugins.timeline.graphql import contribution

    return contribution(audience)


@hookimpl
def event_emitted(name, payload):
    from plugins.timeline.service import record

    record(name, payload)


@hookimpl
def customer_before_update(customer):
    from plugins.timeline.service import before_update

    before_update(customer)


# The privacy plugin's hooks: optional, so that this plugin loads without it.
@hookimpl(optionalhook=True)
def customer_export(customer):
    from plugins.timeline.service import export

    return export(customer)


@hookimpl(optionalhook=True)
def customer_erase(customer):
    from plugins.timeline.service import erase

    erase(customer)
