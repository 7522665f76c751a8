"""EverShop's customer tables, as EverShop creates them.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
# The core's branch: plugins' revisions form branches of their own
# (docs/plugins.md), and `flask db upgrade core@head` upgrades the core alone.
branch_labels = ("core",)
depends_on = None


def _columns(dialect: str):
    """Column builders that read as EverShop's DDL on PostgreSQL and still
    work on SQLite (which has no identity, uuid or jsonb types)."""
    pg = dialect == "postgresql"

    def identity(name):
        return sa.Column(name, sa.Integer, sa.Identity(always=True), primary_key=True)

    def uuid():
        return sa.Column(
            "uuid",
            sa.Uuid,
            nullable=False,
            unique=True,
            server_default=sa.text("gen_random_uuid()" if pg else "(lower(hex(randomblob(16))))"),
        )

    def stamps():
        return [
            sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()),
        ]

    json_type = postgresql.JSONB() if pg else sa.JSON()
    return identity, uuid, stamps, json_type


def upgrade():
    identity, uuid, stamps, json_type = _columns(op.get_bind().dialect.name)

    op.create_table(
        "customer_group",
        identity("customer_group_id"),
        uuid(),
        sa.Column("group_name", sa.String(255), nullable=False),
        *stamps(),
    )
    op.execute("INSERT INTO customer_group (group_name) VALUES ('Default')")

    op.create_table(
        "customer",
        identity("customer_id"),
        uuid(),
        sa.Column("status", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column(
            "group_id",
            sa.Integer,
            sa.ForeignKey(
                "customer_group.customer_group_id",
                name="fk_customer_group_id_customer_group",
                ondelete="SET NULL",
            ),
            server_default="1",
        ),
        sa.Column("email", sa.String(255), nullable=False, unique=True),
        sa.Column("password", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(255)),
        *stamps(),
        sa.Column("meta_data", json_type, nullable=False, server_default=sa.text("'{}'")),
    )

    op.create_table(
        "customer_address",
        identity("customer_address_id"),
        uuid(),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey(
                "customer.customer_id",
                name="fk_customer_address_customer_id_customer",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("full_name", sa.String(255)),
        sa.Column("telephone", sa.String(255)),
        sa.Column("address_1", sa.String(255)),
        sa.Column("address_2", sa.String(255)),
        sa.Column("postcode", sa.String(255)),
        sa.Column("city", sa.String(255)),
        sa.Column("province", sa.String(255)),
        sa.Column("country", sa.String(255), nullable=False),
        *stamps(),
        sa.Column("is_default", sa.Boolean),
    )
    op.create_index("ix_customer_address_customer_id", "customer_address", ["customer_id"])

    op.create_table(
        "reset_password_token",
        identity("reset_password_token_id"),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey(
                "customer.customer_id",
                name="fk_reset_password_token_customer_id_customer",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_index("ix_reset_password_token_customer_id", "reset_password_token", ["customer_id"])

    op.create_table(
        "admin_user",
        identity("admin_user_id"),
        uuid(),
        sa.Column("status", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("email", sa.String(255), nullable=False, unique=True),
        sa.Column("password", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(255)),
        *stamps(),
    )


def downgrade():
    for table in ("admin_user", "reset_password_token", "customer_address", "customer", "customer_group"):
        op.drop_table(table)
