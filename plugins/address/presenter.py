"""An address as the API shows it: the one place that turns a row into the
dict every answer, event, hook and GraphQL object is made of, plugin fields
included (docs/plugins.md, "Fields")."""

from __future__ import annotations

from flask import current_app

from app.db import format_timestamp
from app.entity_fields import EntityFields
from app.http import path_for
from app.plugins import contributions
from plugins.address.models import ADDRESS_FIELDS, CustomerAddress

OWN_FIELDS = (
    "customer_address_id",
    "uuid",
    "customer_id",
    *ADDRESS_FIELDS,
    "is_default",
    "created_at",
    "updated_at",
)
RESERVED = {*OWN_FIELDS, "links", "meta_data"}


def fields() -> EntityFields:
    """The fields plugins add to addresses in this app
    (``register_address_fields``). EverShop's address table has no
    ``meta_data`` column: each such field is stored by its plugin (``load``
    and ``save``)."""
    found = current_app.extensions.setdefault("entity_fields", {})
    if "address" not in found:
        declared = contributions(current_app.extensions["plugins"], "register_address_fields")
        for plugin, declared_fields in declared.items():
            for field in declared_fields:
                if field.load is None:
                    from app.config import ConfigError

                    raise ConfigError(
                        f"plugin {plugin}: the address field {field.name!r} needs load and save:"
                        " addresses have no meta_data column"
                    )
        found["address"] = EntityFields("address", declared, RESERVED, "customer_address_id")
    return found["address"]


def links(customer_uuid: str, address_uuid: str) -> list[dict]:
    href = path_for(
        "addresses.update_address", customer_uuid=customer_uuid, address_uuid=address_uuid
    )
    return [
        {"rel": "edit", "href": href, "action": "PATCH", "types": ["application/json"]},
        {"rel": "delete", "href": href, "action": "DELETE", "types": ["application/json"]},
    ]


def me_links(address_uuid: str) -> list[dict]:
    """The links of an address shown to its customer on a ``/me`` route: the
    ``/me`` forms, as EverShop gives a customer its own addresses."""
    href = path_for("addresses.update_my_address", address_uuid=address_uuid)
    return [
        {"rel": "edit", "href": href, "action": "PATCH", "types": ["application/json"]},
        {"rel": "delete", "href": href, "action": "DELETE", "types": ["application/json"]},
    ]


def on_me_route(address: dict) -> dict:
    """``address`` (with links) as its customer sees it on a ``/me`` route."""
    return {**address, "links": me_links(address["uuid"])}


def _own(row: CustomerAddress) -> dict:
    return {
        "customer_address_id": row.customer_address_id,
        "uuid": str(row.uuid),
        "customer_id": row.customer_id,
        **{name: getattr(row, name) for name in ADDRESS_FIELDS},
        "is_default": bool(row.is_default),
        "created_at": format_timestamp(row.created_at),
        "updated_at": format_timestamp(row.updated_at),
    }


def present_many(rows: list[CustomerAddress], customer_uuids: dict[int, str] | None) -> list[dict]:
    """Addresses (ORM objects, or rows of the table's columns) as the API
    shows them; with ``customer_uuids`` (customer id -> uuid), each with its
    ``links``."""
    items = [_own(row) for row in rows]
    extra = fields()
    if extra:
        extra.present(items, [None] * len(items))
    if customer_uuids is not None:
        for item in items:
            item["links"] = links(customer_uuids[item["customer_id"]], item["uuid"])
    return items


def present(row: CustomerAddress, customer_uuid: str) -> dict:
    return present_many([row], {row.customer_id: customer_uuid})[0]
