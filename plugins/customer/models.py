"""EverShop's ``customer_group`` and ``customer`` tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, db, new_uuid, utcnow

DEFAULT_GROUP_ID = 1


class CustomerGroup(db.Model):
    __tablename__ = "customer_group"
    # Names are unique whatever their letter case (migration 0016).
    __table_args__ = (
        sa.Index("uq_customer_group_lower_group_name", sa.text("lower(group_name)"), unique=True),
    )

    customer_group_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    group_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    created_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Customer(db.Model):
    __tablename__ = "customer"
    __table_args__ = (
        sa.Index("uq_customer_lower_email", sa.text("lower(email)"), unique=True),
        sa.Index("ix_customer_group_id", "group_id"),
    )

    customer_id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(always=True), primary_key=True)
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    status: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, default=1)
    group_id = mapped_column(
        sa.Integer,
        sa.ForeignKey("customer_group.customer_group_id", ondelete="SET NULL"),
        nullable=True,
        default=DEFAULT_GROUP_ID,
    )
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False, unique=True)
    password: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    full_name = mapped_column(sa.String(255), nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    meta_data = mapped_column(JSONType, nullable=False, default=dict)
    # The service's own columns: tokens issued before the password last
    # changed are refused; tokens this service signs carry token_version, and
    # any other version is refused. The database moves both on whenever the
    # password changes, whoever changes it (migration 0007), so the ORM reads
    # them back after an update rather than trusting what it wrote.
    password_changed_at = mapped_column(
        sa.DateTime(timezone=True), nullable=True, server_onupdate=sa.FetchedValue()
    )
    token_version: Mapped[int] = mapped_column(
        sa.Integer,
        nullable=False,
        default=0,
        server_default="0",
        server_onupdate=sa.FetchedValue(),
    )
    # When every token was last revoked at once: tokens without a version
    # (EverShop's) issued before it are refused (migration 0017).
    tokens_revoked_at = mapped_column(sa.DateTime(timezone=True), nullable=True)

    def to_identity(self) -> dict:
        """The ``customer`` claim of a customer token."""
        return {
            "customer_id": self.customer_id,
            "uuid": str(self.uuid),
            "email": self.email,
            "full_name": self.full_name,
            "status": self.status,
            "group_id": self.group_id,
        }


# The search's trigram indexes (migration 0003), on PostgreSQL only; declared
# here so that `flask db check` compares them.
for _column in (Customer.email, Customer.full_name):
    _lowered = f"lower_{_column.key}"
    sa.Index(
        f"ix_customer_{_column.key}_trgm",
        sa.func.lower(_column).label(_lowered),
        postgresql_using="gin",
        postgresql_ops={_lowered: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")
