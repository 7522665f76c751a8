"""Who is acting: the caller of the request, the plugin whose event handler
is running, or the system (a command, a background job).

Records that say who did what (the timeline plugin's) read
:func:`current_actor`. Event delivery names the subscribing plugin around
each handler, so that a change a handler makes is the plugin's; a plugin that
works outside a request or a handler (a thread of its own) names itself with
:func:`acting_as_plugin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import has_request_context

_plugin: ContextVar[str | None] = ContextVar("acting_plugin", default=None)


@dataclass(frozen=True)
class Actor:
    """``type`` is ``"admin"``, ``"customer"``, ``"anonymous"`` (a request
    without a token), ``"plugin"`` or ``"system"``; ``id`` is the admin user's
    or the customer's id (as text), the plugin's name, or None."""

    type: str
    id: str | None = None


@contextmanager
def acting_as_plugin(name: str) -> Iterator[None]:
    """Within the block, changes are the plugin ``name``'s (a subscriber's
    ``name#2`` counts as ``name``)."""
    token = _plugin.set(name.split("#", 1)[0])
    try:
        yield
    finally:
        _plugin.reset(token)


def current_actor() -> Actor:
    """The plugin named by :func:`acting_as_plugin`, else the caller of the
    current request (its token's account, or anonymous), else the system."""
    plugin = _plugin.get()
    if plugin:
        return Actor("plugin", plugin)
    if not has_request_context():
        return Actor("system")
    from app.auth.guards import hook_context

    context = hook_context()
    if context.actor_type == "admin":
        return Actor("admin", str(context.actor["admin_user_id"]))
    if context.actor_type == "customer":
        return Actor("customer", str(context.actor["customer_id"]))
    return Actor("anonymous")
