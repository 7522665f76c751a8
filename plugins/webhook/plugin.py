"""Wires the webhook plugin into the service: its admin routes, settings and
events, and the two subscribers that fan events out and deliver them."""

from __future__ import annotations

from app.plugins import hookimpl


@hookimpl
def register_blueprints():
    from plugins.webhook.routes import blp

    return [blp]


@hookimpl
def register_settings():
    from plugins.webhook.settings import SETTINGS

    return SETTINGS


@hookimpl
def register_events():
    from plugins.webhook.events import EVENTS

    return EVENTS


@hookimpl
def subscribe():
    from plugins.webhook.service import subscriptions

    return subscriptions()
