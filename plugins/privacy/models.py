"""The privacy plugin's table: the links that confirm a customer's own request
to erase its account (only the SHA-256 of a token is kept)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, utcnow


class ErasureToken(db.Model):
    __tablename__ = "customer_erasure_token"
    __table_args__ = (sa.Index("uq_customer_erasure_token_token", "token", unique=True),)

    customer_erasure_token_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        sa.Integer,
        sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False)  # hex SHA-256
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
