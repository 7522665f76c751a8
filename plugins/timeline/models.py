"""The ``customer_event`` table: one row per thing that happened to a
customer's account. Never personal data: an update names the fields it
changed, not their values; only an admin's note holds text."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, db, new_uuid, utcnow


class CustomerEvent(db.Model):
    __tablename__ = "customer_event"
    __table_args__ = (
        # A customer's entries, newest first.
        sa.Index(
            "ix_customer_event_customer_id_customer_event_id", "customer_id", "customer_event_id"
        ),
    )

    customer_event_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    customer_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), nullable=False
    )
    # The event's name (customer_updated, customer_note_added...).
    event: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    # "admin", "customer", "plugin" or "system"; the admin user's or the
    # customer's id, or the plugin's name.
    actor_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    actor_id = mapped_column(sa.String(100), nullable=True)
    details = mapped_column(JSONType, nullable=False, default=dict)
    note = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
