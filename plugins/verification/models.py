"""The verification plugin's tables: each customer's verification state, and
its outstanding links (only the SHA-256 of a token is kept)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, utcnow

# What a link confirms: the customer's current address, or a new one it asked for.
VERIFY = "verify"
CHANGE = "change"


class EmailVerification(db.Model):
    """One row per customer the plugin knows something about. The email is
    verified while ``verified_email`` is the customer's email (any letter
    case): an email changed by any other way is unverified at once."""

    __tablename__ = "customer_email_verification"

    customer_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True
    )
    verified_email = mapped_column(sa.String(255), nullable=True)
    verified_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # A change the customer asked for, applied once the new address confirms it.
    pending_email = mapped_column(sa.String(255), nullable=True)
    pending_since = mapped_column(sa.DateTime(timezone=True), nullable=True)


class EmailVerificationToken(db.Model):
    __tablename__ = "customer_email_token"
    __table_args__ = (sa.Index("uq_customer_email_token_token", "token", unique=True),)

    customer_email_token_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        sa.Integer,
        sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    purpose: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # The address the link confirms: a link for an address the account no
    # longer has (or no longer asks for) is refused.
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False)  # hex SHA-256
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
