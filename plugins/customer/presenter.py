"""A customer as the API shows it: the one place that turns a row into the
dict every answer, event, hook and GraphQL object is made of, plugin fields
included (docs/plugins.md, "Fields")."""

from __future__ import annotations

from flask import current_app

from app.db import format_timestamp
from app.entity_fields import EntityFields
from app.plugins import contributions
from plugins.customer import metafields
from plugins.customer.models import Customer

# The customer's own fields, in the API's order.
OWN_FIELDS = (
    "customer_id",
    "uuid",
    "status",
    "group_id",
    "email",
    "full_name",
    "created_at",
    "updated_at",
    "meta_data",
)
# Names plugins may not take: the own fields, and what answers add to them.
RESERVED = {*OWN_FIELDS, "links", "addresses", "password"}


def fields() -> EntityFields:
    """The fields plugins add to customers in this app (``register_customer_fields``)."""
    found = current_app.extensions.setdefault("entity_fields", {})
    if "customer" not in found:
        declared = contributions(current_app.extensions["plugins"], "register_customer_fields")
        found["customer"] = EntityFields("customer", declared, RESERVED, "customer_id")
    return found["customer"]


def _own(row: Customer) -> dict:
    return {
        "customer_id": row.customer_id,
        "uuid": str(row.uuid),
        "status": row.status,
        "group_id": row.group_id,
        "email": row.email,
        "full_name": row.full_name,
        "created_at": format_timestamp(row.created_at),
        "updated_at": format_timestamp(row.updated_at),
    }


def account(row: Customer) -> dict:
    """The customer's own fields only: what a token's principal carries
    (plugin fields are not loaded on every authenticated request)."""
    return _own(row)


def present_many(rows: list[Customer], only: set[str] | None = None) -> list[dict]:
    """Customers (ORM objects, or rows of the table's columns) as the API
    shows them: never the password hash; ``meta_data``
    is the store's metafields (the plugins' namespaces are their fields).
    ``only``: the plugin fields with a ``load`` to load (default all; GraphQL
    loads those its query names)."""
    items = [_own(row) for row in rows]
    extra = fields()
    namespaces = extra.plugin_namespaces()
    for item, row in zip(items, rows, strict=True):
        item["meta_data"] = metafields.store_part(row.meta_data, namespaces)
    if extra:
        extra.present(items, [row.meta_data for row in rows], only)
    return items


def present(row: Customer) -> dict:
    return present_many([row])[0]


def links(customer: dict) -> list[dict]:
    """The ``links`` of a create or update answer: EverShop's admin pages
    (not routes of this service)."""
    return [
        {"rel": "customerGrid", "href": "/admin/customers", "action": "GET", "types": ["text/xml"]},
        {
            "rel": "edit",
            "href": f"/admin/customers/edit/{customer['uuid']}",
            "action": "GET",
            "types": ["text/xml"],
        },
    ]
