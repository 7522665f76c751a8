"""The ``admin_user`` table (EverShop's)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, format_timestamp, new_uuid, utcnow


class AdminUser(db.Model):
    __tablename__ = "admin_user"
    __table_args__ = (sa.Index("uq_admin_user_lower_email", sa.text("lower(email)"), unique=True),)

    admin_user_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    status: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False, unique=True)
    password: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    full_name = mapped_column(sa.String(255), nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # Tokens carry it; moving it on revokes every token issued before.
    token_version: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    # When every token was last revoked at once: tokens without a version
    # (EverShop's) issued before it are refused.
    tokens_revoked_at = mapped_column(sa.DateTime(timezone=True), nullable=True)

    def to_identity(self) -> dict:
        """The ``user`` claim of an admin token."""
        return identity_of(self)

    def to_dict(self) -> dict:
        return account_of(self)


def identity_of(user) -> dict:
    """The ``user`` claim of an admin token, from an :class:`AdminUser` or a
    row of its columns."""
    return {
        "admin_user_id": user.admin_user_id,
        "uuid": str(user.uuid),
        "email": user.email,
        "full_name": user.full_name,
        "status": 1 if user.status else 0,
    }


def account_of(user) -> dict:
    """The admin as a token's principal carries it (never the password hash),
    from an :class:`AdminUser` or a row of its columns."""
    return {
        **identity_of(user),
        "created_at": format_timestamp(user.created_at),
        "updated_at": format_timestamp(user.updated_at),
    }
