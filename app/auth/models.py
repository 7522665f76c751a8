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
        return {
            "admin_user_id": self.admin_user_id,
            "uuid": str(self.uuid),
            "email": self.email,
            "full_name": self.full_name,
            "status": 1 if self.status else 0,
        }

    def to_dict(self) -> dict:
        return {
            **self.to_identity(),
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
        }
