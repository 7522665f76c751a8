"""A customer's metafields: the store's custom data in EverShop's
``customer.meta_data`` column (docs/api.md, "Metafields").

The column is one JSON object, ``{namespace: {key: value}}``, shared by two
writers: the store (EverShop's admin, or this service's ``meta_data`` and
``PATCH /api/customers/<uuid>/metafields``) and the plugins whose fields
live there (:mod:`app.entity_fields`, each under its plugin's name). The
plugins' namespaces are theirs alone: the store's part is the column without
them, a store's write replaces that part and keeps the plugins' keys, and
naming a plugin's namespace in it is a 400.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.db import db
from app.errors import PayloadTooLarge, ValidationError

# The store's part of meta_data, as compact JSON in UTF-8 (docs/api.md).
MAX_BYTES = 16 * 1024

# EverShop's metafield definitions (its table; absent outside an EverShop database).
DEFINITIONS_TABLE = "metafield_definition"


def _refuse(field: str, message: str):
    raise ValidationError(message, [{"field": field, "message": message}])


def validate(value, plugin_namespaces: set[str], field: str = "meta_data") -> dict:
    """The store's metafields as sent, checked: an object of namespaces, each
    an object of keys; no plugin's namespace; at most :data:`MAX_BYTES`."""
    if not isinstance(value, dict):
        _refuse(field, f"{field} must be a JSON object of namespaces.")
    for namespace, keys in value.items():
        if not namespace.strip():
            _refuse(field, f"{field}: a namespace must not be empty.")
        if namespace in plugin_namespaces:
            _refuse(
                f"{field}.{namespace}",
                f"{field}: the namespace {namespace!r} belongs to the plugin of that name;"
                " its fields are written through their own names.",
            )
        if not isinstance(keys, dict):
            _refuse(
                f"{field}.{namespace}",
                f"{field}.{namespace} must be a JSON object of keys and values.",
            )
        if any(not key.strip() for key in keys):
            _refuse(f"{field}.{namespace}", f"{field}.{namespace}: a key must not be empty.")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_BYTES:
        raise PayloadTooLarge(
            f"{field} is {size} bytes of JSON; at most {MAX_BYTES} are allowed.",
            [{"field": field, "message": f"At most {MAX_BYTES} bytes of JSON."}],
        )
    return value


def store_part(meta_data: dict | None, plugin_namespaces: set[str]) -> dict:
    """The store's metafields: ``meta_data`` without the plugins' namespaces."""
    return {k: v for k, v in (meta_data or {}).items() if k not in plugin_namespaces}


def replace_store_part(meta_data: dict | None, new: dict, plugin_namespaces: set[str]) -> dict:
    """``meta_data`` with its store's part replaced by ``new``; the plugins'
    namespaces are kept as they are."""
    kept = {k: v for k, v in (meta_data or {}).items() if k in plugin_namespaces}
    return {**new, **kept}


def definitions() -> list[dict]:
    """EverShop's customer metafield definitions, in its order (``position``,
    then id): ``namespace``, ``key``, ``type``, ``visible_to_customer``; none
    where the database has no such table (outside an EverShop database)."""
    if not sa.inspect(db.session.connection()).has_table(DEFINITIONS_TABLE):
        return []
    rows = db.session.execute(
        sa.text(
            f"SELECT namespace, field_key, field_type, visible_to_customer"  # noqa: S608
            f" FROM {DEFINITIONS_TABLE} WHERE owner_type = 'customer'"
            " ORDER BY position, metafield_definition_id"
        )
    )
    return [
        {
            "namespace": row.namespace,
            "key": row.field_key,
            "type": row.field_type,
            "visible_to_customer": bool(row.visible_to_customer),
        }
        for row in rows
    ]


def shaped(meta: dict, found: list[dict], audience: str, namespace: str | None) -> list[dict]:
    """GraphQL ``Metafield``s: one per definition (those a customer may see,
    for the storefront), with the stored value or null, as EverShop shapes them."""
    out = []
    for definition in found:
        if audience != "admin" and not definition["visible_to_customer"]:
            continue
        if namespace and definition["namespace"] != namespace:
            continue
        value = (meta.get(definition["namespace"]) or {}).get(definition["key"])
        out.append(
            {
                "namespace": definition["namespace"],
                "key": definition["key"],
                "type": definition["type"].upper(),
                "value": value,
            }
        )
    return out
