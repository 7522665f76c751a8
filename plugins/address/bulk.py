"""Addresses in ``flask customers import``: the address plugin's part of an
import, offered to the customer plugin as the ``address_import`` service
(docs/operations.md, "Exporting and importing customers").

:func:`check` validates an imported customer's ``addresses`` with the API's
own rules (``AddressCreateSchema`` and every plugin's ``address_rules``);
:func:`write` merges them into the customers' address books, a whole batch at
once, in the import's transaction, and writes ``address_created`` and
``address_updated`` as the API does.
"""

from __future__ import annotations

import uuid

import marshmallow as ma
import sqlalchemy as sa

from app.db import insert_rows
from app.errors import ValidationError
from app.events import emit_many
from app.plugins import collect
from plugins.address import events
from plugins.address.models import ADDRESS_FIELDS, CustomerAddress
from plugins.address.presenter import present_many
from plugins.address.schemas import AddressCreateSchema

TABLE = CustomerAddress.__table__
# What makes two addresses the same one (an import run twice adds nothing).
SAME = ADDRESS_FIELDS


def checker():
    """:func:`check` with the schema and the plugins' rules of this app read
    once, for the records of one import."""
    # Plugin fields of addresses are stored by their plugins, one address at
    # a time: an import leaves them out.
    schema, rules = AddressCreateSchema(), collect("address_rules")
    return lambda addresses: check(addresses, schema, rules)


def check(addresses, schema=None, rules=None) -> tuple[list[dict], list[tuple[str, str]]]:
    """The addresses of one imported customer, validated as ``POST
    .../addresses`` validates a body, with each one's ``uuid`` (optional)
    kept; and the problems found, as ``(field, message)`` with fields named
    ``addresses[i].name``."""
    if not isinstance(addresses, list):
        return [], [("addresses", "Not a list.")]
    schema = schema or AddressCreateSchema()
    rules = collect("address_rules") if rules is None else rules
    clean, problems = [], []
    for index, item in enumerate(addresses):
        where = f"addresses[{index}]"
        if not isinstance(item, dict):
            problems.append((where, "Not an object."))
            continue
        given = {k: v for k, v in item.items() if k in schema.fields}
        try:
            loaded = schema.load(given)
        except ma.ValidationError as error:
            for field, message in _flat(error.messages):
                problems.append((f"{where}.{field}", message))
            continue
        address_uuid = item.get("uuid")
        if address_uuid is not None:
            try:
                loaded["uuid"] = uuid.UUID(str(address_uuid))
            except ValueError:
                problems.append((f"{where}.uuid", "Not a valid UUID."))
                continue
        stored = {name: loaded.get(name) for name in ADDRESS_FIELDS}
        problem = _rules(rules, stored | {"is_default": bool(loaded.get("is_default"))})
        if problem:
            problems += [(f"{where}.{field}" if field else where, text) for field, text in problem]
            continue
        clean.append(loaded)
    if sum(1 for address in clean if address.get("is_default")) > 1:
        problems.append(("addresses", "At most one address may be the default."))
    return clean, problems


def _flat(messages) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in ValidationError.from_messages(messages).errors]


def _rules(rules, address: dict) -> list[tuple[str, str]]:
    for rule in rules:
        problem = rule(dict(address))
        if not problem:
            continue
        if isinstance(problem, dict):
            return [(field, str(text)) for field, text in problem.items()]
        return [("", str(problem))]
    return []


def write(connection: sa.Connection, books: list[tuple[dict, list[dict]]], now) -> dict:
    """Merge imported addresses into their customers' address books, in the
    caller's transaction on ``connection``.

    :param books: ``(customer as the API shows it, its checked addresses)``.
        For each address: the customer's address with the same ``uuid`` is
        updated; else one with the same fields is kept; else it is added
        (with its ``uuid`` unless another address has it). An address marked
        ``is_default`` becomes the default (the previous one is cleared); a
        customer that had no address gets its first one as its default, as
        the API does. Addresses not in the file stay.
    :return: ``{"created": n, "updated": n}``.
    """
    books = [(customer, addresses) for customer, addresses in books if addresses]
    if not books:
        return {"created": 0, "updated": 0}
    ids = [customer["customer_id"] for customer, _ in books]
    current: dict[int, list] = {customer_id: [] for customer_id in ids}
    for row in connection.execute(
        sa.select(TABLE).where(TABLE.c.customer_id.in_(ids)).order_by(TABLE.c.customer_address_id)
    ):
        current[row.customer_id].append(row)
    wanted = [a["uuid"] for _, addresses in books for a in addresses if a.get("uuid")]
    taken = set()
    if wanted:
        taken = set(connection.scalars(sa.select(TABLE.c.uuid).where(TABLE.c.uuid.in_(wanted))))

    inserts: list[dict] = []
    changes: dict[int, tuple] = {}  # address id -> (row, changed values)
    for customer, addresses in books:
        rows = current[customer["customer_id"]]
        by_uuid = {row.uuid: row for row in rows}
        by_fields = {tuple(getattr(row, name) for name in SAME): row for row in rows}
        # The API's rule: a customer's first address is its default unless told.
        first_is_default = not rows and not any(a.get("is_default") for a in addresses)
        for index, address in enumerate(addresses):
            values = {name: address.get(name) for name in ADDRESS_FIELDS}
            make_default = bool(address.get("is_default")) or (first_is_default and index == 0)
            row = by_uuid.get(address.get("uuid")) or by_fields.get(tuple(values.values()))
            if make_default:
                for other in rows:
                    if other.is_default and other is not row:
                        changes.setdefault(other.customer_address_id, (other, {}))[1].update(
                            is_default=False
                        )
            if row is not None:
                change = {
                    name: value for name, value in values.items() if getattr(row, name) != value
                }
                if make_default and not row.is_default:
                    change["is_default"] = True
                if change:
                    changes.setdefault(row.customer_address_id, (row, {}))[1].update(change)
                continue
            address_uuid = address.get("uuid")
            if address_uuid is None or address_uuid in taken:
                address_uuid = uuid.uuid4()
            taken.add(address_uuid)
            inserts.append(
                values
                | {
                    "uuid": address_uuid,
                    "customer_id": customer["customer_id"],
                    "is_default": make_default,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    changed_ids = _update(connection, changes, now)
    created = _insert(connection, inserts, ids)
    _emit(connection, books, created, changed_ids)
    return {"created": len(created), "updated": len(changed_ids)}


def _update(connection, changes: dict, now) -> list[int]:
    if not changes:
        return []
    cleared = [i for i, (_, change) in changes.items() if change.get("is_default") is False]
    if cleared:
        # First: the new defaults must not meet the old ones in the
        # one-default-per-customer index.
        connection.execute(
            sa.update(TABLE)
            .where(TABLE.c.customer_address_id.in_(cleared))
            .values(is_default=False, updated_at=now)
        )
    params = [
        {name: change.get(name, getattr(row, name)) for name in ADDRESS_FIELDS}
        | {"is_default": change.get("is_default", bool(row.is_default)), "_id": address_id}
        for address_id, (row, change) in changes.items()
        if set(change) - {"is_default"} or change.get("is_default") is True
    ]
    if params:
        connection.execute(
            sa.update(TABLE)
            .where(TABLE.c.customer_address_id == sa.bindparam("_id"))
            .values(
                {name: sa.bindparam(name) for name in (*ADDRESS_FIELDS, "is_default")}
                | {"updated_at": now}
            ),
            params,
        )
    return list(changes)


def _insert(connection, inserts: list[dict], customer_ids: list[int]) -> list:
    """Insert the new addresses; their rows, read back through the customers'
    index (the planner may not use the uuid index on a table just filled)."""
    if not inserts:
        return []
    insert_rows(connection, TABLE, inserts)
    new = {row["uuid"] for row in inserts}
    rows = connection.execute(
        sa.select(TABLE)
        .where(TABLE.c.customer_id.in_(customer_ids))
        .order_by(TABLE.c.customer_address_id)
    ).all()
    return [row for row in rows if row.uuid in new]


def _emit(connection, books, created: list, changed_ids: list[int]) -> None:
    uuids = {customer["customer_id"]: customer["uuid"] for customer, _ in books}
    emit_many(events.ADDRESS_CREATED, present_many(created, uuids), connection)
    if changed_ids:
        rows = connection.execute(
            sa.select(TABLE)
            .where(TABLE.c.customer_address_id.in_(changed_ids))
            .order_by(TABLE.c.customer_address_id)
        ).all()
        emit_many(events.ADDRESS_UPDATED, present_many(rows, uuids), connection)
