"""The public API for plugins: everything a plugin may import from the
service, in one module (docs/plugins.md, "The public API").

Import from here, and from the hooks' documentation, and nothing else of the
service: every other module is private to it and may change in any release.
The customer plugin's service is reached with ``service("customers")``
(docs/plugins.md, "The customer service"), and its customer groups with
``service("customer_groups")``.

    from app.plugin_api import EntityField, Setting, hookimpl, transaction

Names:

* Plugins: :data:`hookimpl`, :data:`hookspec`, :class:`HookContext`,
  :func:`hooks` (to call the hooks a plugin owns, ``register_hookspecs``).
* Contributions: :class:`EntityField` (fields on customers and addresses),
  :class:`Setting`, :class:`EventType`, :class:`GraphQLContribution`,
  :class:`Blueprint` (REST routes in the OpenAPI document).
* Routes: :func:`allow` (who may call a route, enforced and documented),
  :func:`current_principal`, :func:`hook_context`, :func:`load` (validate a
  body with a marshmallow schema into a 400 naming the fields),
  :func:`read_json_body`.
* Errors: :class:`AppError` and its kinds, which reach the client as their
  status and message; :meth:`ValidationError.for_field` names a field.
* Data: :data:`db` (your models subclass ``db.Model``), :func:`transaction`
  and :func:`after_commit` (the unit of work), :func:`in_transaction`,
  :func:`unit_of_work_state`, :func:`insert_later` (rows sent with the
  commit), :func:`emit` and :class:`Event`,
  :func:`utcnow`, :data:`JSONType`; a
  subscriber raises :class:`RetryLater` for an expected failure (retried,
  logged without a traceback) and keeps what every event of a batch shares
  in :func:`delivery_batch_state`.
* Who acts: :func:`current_actor` (:class:`Actor`), :func:`acting_as_plugin`.
* Other plugins: :func:`service`, :func:`find_customer`,
  :func:`declared_events` (the events plugins declare, to subscribe to them).
* GraphQL: :func:`batched`, :func:`remember`, :func:`date_value`.
* Mail: :class:`OutgoingMail`, :func:`render_mail`, :func:`send_mail`.
"""

from __future__ import annotations

import uuid

from flask import current_app

from app import deferred_inserts
from app.actors import Actor, acting_as_plugin, current_actor
from app.auth.guards import Principal, allow, current_principal, hook_context
from app.db import JSONType, db, utcnow
from app.entity_fields import EntityField, rows_read_with, shared_load
from app.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)
from app.events import Event, EventType, RetryLater, delivery_batch_state, emit
from app.graphql import GraphQLContribution, batched, date_value, remember
from app.http import Blueprint, load, read_json_body
from app.mail import OutgoingMail
from app.mail import render as render_mail
from app.mail import send as send_mail
from app.plugins import HookContext, contributions, hookimpl, hooks, hookspec, plugin_manager
from app.services import service
from app.settings import Setting
from app.transactions import after_commit, in_transaction, transaction, unit_of_work_state


def find_customer(
    customer_uuid: uuid.UUID | str | None = None,
    *,
    customer_id: int | None = None,
    email: str | None = None,
) -> dict | None:
    """The customer with this uuid, id or email (any letter case), as the API
    shows it (plugin fields included), or None. Needs the customer plugin."""
    if isinstance(customer_uuid, str):
        try:
            customer_uuid = uuid.UUID(customer_uuid)
        except ValueError:
            return None
    return service("customers").find(customer_uuid, customer_id=customer_id, email=email)


def insert_later(model, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``model``'s table in the
    current write, at the latest with its commit (docs/plugins.md, "Records of
    a write"): on PostgreSQL they travel with the ``COMMIT`` instead of taking
    a round trip of their own.

    They behave as if inserted at once: the write's next statement sends them
    first, a rollback drops them, and the database refusing one fails the
    write. Give every column with a Python-side default (a ``uuid``); the
    others take their server default. Must be called inside
    :func:`transaction`. For a row the write reads back or whose generated id
    it needs, add it to ``db.session`` instead.

    :param model: a model class (``db.Model``) or a ``Table``.
    :param rows: the rows, as ``{column name: value}``.
    """
    if not in_transaction():
        raise RuntimeError("insert_later() outside a transaction() block")
    table = getattr(model, "__table__", model)
    deferred_inserts.insert_later(db.session.connection(), table, rows)


def declared_events(*plugins: str) -> list[EventType]:
    """The events the named plugins declare (``register_events``), or every
    plugin's when none is named, in the order they are declared.

    ``declared_events("customer", "address")`` are the customer and address
    events, for a subscriber of all of them. Read once per app and kept, so
    it is cheap enough for the ``subscribe`` hook, which runs at each delivery.
    """
    cache = current_app.extensions.setdefault("plugin_api", {})
    if "events" not in cache:
        cache["events"] = contributions(plugin_manager(), "register_events")
    declared = cache["events"]
    wanted = plugins or tuple(declared)
    return [event for plugin in wanted for event in declared.get(plugin, ())]


__all__ = [
    "JSONType",
    "Actor",
    "AppError",
    "BadRequest",
    "Blueprint",
    "Conflict",
    "EntityField",
    "Event",
    "EventType",
    "Forbidden",
    "GraphQLContribution",
    "HookContext",
    "NotFound",
    "OutgoingMail",
    "Principal",
    "RetryLater",
    "Setting",
    "TooManyRequests",
    "Unauthorized",
    "ValidationError",
    "acting_as_plugin",
    "after_commit",
    "allow",
    "batched",
    "current_actor",
    "current_principal",
    "date_value",
    "db",
    "declared_events",
    "delivery_batch_state",
    "emit",
    "find_customer",
    "hook_context",
    "hookimpl",
    "hooks",
    "hookspec",
    "in_transaction",
    "insert_later",
    "load",
    "read_json_body",
    "remember",
    "render_mail",
    "rows_read_with",
    "shared_load",
    "send_mail",
    "service",
    "transaction",
    "unit_of_work_state",
    "utcnow",
]
