"""A test plugin adding fields to customers and addresses:

* ``nickname`` (customer, kept in ``meta_data`` under this plugin's name): an
  admin, the customer itself and a visitor signing up may send it;
* ``loyalty_points`` (customer, read only, from the plugin's own table,
  loaded for many customers in one query);
* ``delivery_notes`` (address, in the plugin's own table, saved in the
  write's transaction).

The tables are created by the tests (a real plugin ships a migration).
"""

from __future__ import annotations

import pluggy
import sqlalchemy as sa
from marshmallow import fields, validate

from app.db import db
from app.entity_fields import EntityField

hookimpl = pluggy.HookimplMarker("evershop")

points_table = sa.Table(
    "test_loyalty_points",
    sa.MetaData(),
    sa.Column("customer_id", sa.Integer, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
)
notes_table = sa.Table(
    "test_delivery_notes",
    sa.MetaData(),
    sa.Column("customer_address_id", sa.Integer, primary_key=True),
    sa.Column("notes", sa.Text, nullable=False),
)

# How many times load was called, and with how many entities (batching).
loads: list[int] = []


def load_points(customers: list[dict]) -> dict:
    loads.append(len(customers))
    ids = [c["customer_id"] for c in customers]
    rows = db.session.execute(
        sa.select(points_table).where(points_table.c.customer_id.in_(ids))
    ).all()
    return {row.customer_id: row.points for row in rows}


def load_notes(addresses: list[dict]) -> dict:
    ids = [a["customer_address_id"] for a in addresses]
    rows = db.session.execute(
        sa.select(notes_table).where(notes_table.c.customer_address_id.in_(ids))
    ).all()
    return {row.customer_address_id: row.notes for row in rows}


def save_notes(address: dict, value, context) -> None:
    key = address["customer_address_id"]
    db.session.execute(sa.delete(notes_table).where(notes_table.c.customer_address_id == key))
    if value:
        db.session.execute(sa.insert(notes_table).values(customer_address_id=key, notes=value))


@hookimpl
def register_customer_fields():
    return [
        EntityField(
            "nickname",
            fields.String(allow_none=True, validate=validate.Length(max=40)),
            input=("admin", "self", "signup"),
            graphql="String",
            description="What the shop calls the customer.",
        ),
        EntityField(
            "loyalty_points",
            fields.Integer(),
            input=(),
            load=load_points,
            graphql="Int",
            default=0,
        ),
    ]


@hookimpl
def register_address_fields():
    return [
        EntityField(
            "delivery_notes",
            fields.String(allow_none=True, validate=validate.Length(max=200)),
            load=load_notes,
            save=save_notes,
            graphql="String",
        )
    ]
