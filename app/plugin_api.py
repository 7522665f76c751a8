"""The public API for plugins: everything a plugin may import from the
service, in one module (docs/plugins.md, "The public API").

Import from here, and from the hooks' documentation, and nothing else of the
service: every other module is private to it and may change in any release.
The customer plugin's service is reached with ``service("customers")``
(docs/plugins.md, "The customer service"), and its customer groups with
``service("customer_groups")``.

    from app.plugin_api import EntityField, Setting, hookimpl, transaction

Names:

* Plugins: :data:`hookimpl`, :data:`hookspec`, :class:`HookContext`.
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
  and :func:`after_commit` (the unit of work), :func:`emit` and :class:`Event`,
  :func:`utcnow`, :data:`JSONType`.
* Other plugins: :func:`service`, :func:`find_customer`.
* GraphQL: :func:`batched`, :func:`remember`, :func:`date_value`.
* Mail: :class:`OutgoingMail`, :func:`render_mail`, :func:`send_mail`.
"""

from __future__ import annotations

import uuid

from app.auth.guards import Principal, allow, current_principal, hook_context
from app.db import JSONType, db, utcnow
from app.entity_fields import EntityField
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
from app.events import Event, EventType, emit
from app.graphql import GraphQLContribution, batched, date_value, remember
from app.http import Blueprint, load, read_json_body
from app.mail import OutgoingMail
from app.mail import render as render_mail
from app.mail import send as send_mail
from app.plugins import HookContext, hookimpl, hookspec
from app.services import service
from app.settings import Setting
from app.transactions import after_commit, transaction


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


__all__ = [
    "JSONType",
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
    "Setting",
    "TooManyRequests",
    "Unauthorized",
    "ValidationError",
    "after_commit",
    "allow",
    "batched",
    "current_principal",
    "date_value",
    "db",
    "emit",
    "find_customer",
    "hook_context",
    "hookimpl",
    "hookspec",
    "load",
    "read_json_body",
    "remember",
    "render_mail",
    "send_mail",
    "service",
    "transaction",
    "utcnow",
]
