"""EverShop's ``customer_address`` table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, new_uuid, utcnow

# The fields a client sends and reads, in the API's order.
ADDRESS_FIELDS = (
    "full_name",
    "telephone",
    "address_1",
    "address_2",
    "city",
    "province",
    "country",
    "postcode",
)


class CustomerAddress(db.Model):
    __tablename__ = "customer_address"
    __table_args__ = (
        sa.Index(
            "uq_customer_address_one_default",
            "customer_id",
            unique=True,
            postgresql_where=sa.text("is_default"),
            sqlite_where=sa.text("is_default"),
        ),
    )

    customer_address_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    customer_id: Mapped[int] = mapped_column(
        sa.Integer,
        sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    full_name = mapped_column(sa.String(255))
    telephone = mapped_column(sa.String(255))
    address_1 = mapped_column(sa.String(255))
    address_2 = mapped_column(sa.String(255))
    postcode = mapped_column(sa.String(255))
    city = mapped_column(sa.String(255))
    province = mapped_column(sa.String(255))
    country: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    created_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    is_default = mapped_column(sa.Boolean, nullable=True, default=False)
