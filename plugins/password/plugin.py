"""Wires the password plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl


@hookimpl
def register_blueprints():
    from plugins.password.routes import blp

    return [blp]


@hookimpl
def subscribe():
    from plugins.password.service import SUBMITTED, on_reset_submitted

    return {SUBMITTED: on_reset_submitted}
