"""Wires the group plugin into the service: the customer-group endpoints, the
admin GraphQL queries, its hooks and its events."""

from __future__ import annotations

from app.plugins import hookimpl

# Groups are EverShop's customer_group table, which the customer plugin keeps:
# this plugin manages them through its services.
REQUIRES = ("customer",)


@hookimpl
def register_blueprints():
    from plugins.group.routes import blp

    return [blp]


@hookimpl
def register_graphql(audience):
    if audience != "admin":
        return None
    from plugins.group.graphql import contribution

    return contribution()


@hookimpl
def register_hookspecs():
    from plugins.group import hookspecs

    return hookspecs


@hookimpl
def register_events():
    from plugins.group.events import EVENTS

    return EVENTS
