"""The event outbox: events are rows written in the transaction of the change
that causes them, so that an event exists exactly when its change committed.

Delivery to subscribers reads the same table (CONTRACT §8).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, db, new_uuid, utcnow


class EventOutbox(db.Model):
    __tablename__ = "event_outbox"

    event_outbox_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    payload = mapped_column(JSONType, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    last_error = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


def emit(name: str, payload: dict) -> None:
    """Add an event to the current transaction; it commits or rolls back with it.

    ``payload`` is the object as the API shows it: never put a password hash in it.
    """
    db.session.add(EventOutbox(name=name, payload=payload))
