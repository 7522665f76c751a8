"""Loyalty points: the only place that reads and writes the plugin's tables.

``loyalty_account`` holds each customer's balance; ``loyalty_entry`` every
change of it, each with a uuid of its own — for sign-up points, the uuid of
the ``customer_registered`` event they are for, so that the event delivered
twice (delivery is at least once) awards them once. Both tables go with the
customer (``ON DELETE CASCADE``). Every write locks the customer's row first
(the customer service's ``lock``), so two changes of one balance happen one
after the other.
"""

from __future__ import annotations

import contextlib
import uuid

import sqlalchemy as sa
from app.plugin_api import Event, NotFound, ValidationError, db, service, transaction, utcnow
from flask import current_app

SIGN_UP = "sign-up"

# The tables as the plugin's migration made them (migrations/loyalty_0001_accounts.py).
metadata = sa.MetaData()
accounts = sa.Table(
    "loyalty_account",
    metadata,
    sa.Column("customer_id", sa.Integer, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
)
entries = sa.Table(
    "loyalty_entry",
    metadata,
    sa.Column("uuid", sa.Uuid, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


# Built once: the field's load runs on every answer.
_BALANCES = sa.select(accounts.c.customer_id, accounts.c.points).where(
    accounts.c.customer_id.in_(sa.bindparam("ids", expanding=True))
)


def balances(customers: list[dict]) -> dict[int, int]:
    """``{customer_id: points}`` for a page of customers, in one query (the
    field's ``load``); customers without an account are left out (0)."""
    ids = [customer["customer_id"] for customer in customers]
    return dict(db.session.execute(_BALANCES, {"ids": ids}).all())


def award_sign_up_points(event: Event) -> None:
    """Subscriber of ``customer_registered``: ``LOYALTY_POINTS_ON_SIGNUP``
    points, once per event (its uuid), for a customer that still exists."""
    points = current_app.config["LOYALTY_POINTS_ON_SIGNUP"]
    if points == 0:
        return
    # A customer deleted before the event reached us gets nothing.
    with contextlib.suppress(NotFound):
        change(uuid.UUID(event.payload["uuid"]), points, SIGN_UP, entry_uuid=uuid.UUID(event.uuid))


def change(
    customer_uuid: uuid.UUID, points: int, reason: str, entry_uuid: uuid.UUID | None = None
) -> int:
    """Add ``points`` (negative: take them) to the customer's balance, in one
    transaction, and return the new balance.

    :param entry_uuid: the change's identity: a change already recorded
        under it is not made again (the balance is returned as it is).
    :raise NotFound: no such customer.
    :raise ValidationError: the balance would fall below 0 (naming ``points``).
    """
    with transaction():
        customer = service("customers").lock(customer_uuid)
        customer_id = customer["customer_id"]
        balance = customer["loyalty_points"]
        if entry_uuid is not None and db.session.scalar(
            sa.select(sa.func.count()).select_from(entries).where(entries.c.uuid == entry_uuid)
        ):
            return balance
        if balance + points < 0:
            raise ValidationError.for_field(
                "points", f"The balance would fall below 0: it is {balance}."
            )
        db.session.execute(
            sa.insert(entries).values(
                uuid=entry_uuid or uuid.uuid4(),
                customer_id=customer_id,
                points=points,
                reason=reason,
                created_at=utcnow(),
            )
        )
        updated = db.session.execute(
            sa.update(accounts)
            .where(accounts.c.customer_id == customer_id)
            .values(points=accounts.c.points + points)
        )
        if updated.rowcount == 0:
            db.session.execute(sa.insert(accounts).values(customer_id=customer_id, points=points))
    return balance + points
