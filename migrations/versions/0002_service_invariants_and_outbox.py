"""What the service adds to EverShop's tables, and its event outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"

    # Emails are unique whatever their letter case (EverShop's own constraint is
    # case-sensitive); logins look customers up by lower(email) through it.
    op.create_index("uq_customer_lower_email", "customer", [sa.text("lower(email)")], unique=True)
    op.create_index("uq_admin_user_lower_email", "admin_user", [sa.text("lower(email)")], unique=True)

    # At most one default address per customer, enforced by the database.
    op.create_index(
        "uq_customer_address_one_default",
        "customer_address",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
        sqlite_where=sa.text("is_default"),
    )

    # Tokens issued before this moment are refused (docs/api.md, "Authentication").
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True)))

    op.create_table(
        "event_outbox",
        sa.Column(
            "event_outbox_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            primary_key=True,
        ),
        sa.Column(
            "uuid",
            sa.Uuid,
            nullable=False,
            unique=True,
            server_default=sa.text("gen_random_uuid()" if pg else "(lower(hex(randomblob(16))))"),
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("payload", postgresql.JSONB() if pg else sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.Column("last_error", sa.Text),
        sa.Column(
            "delivered_to",
            postgresql.JSONB() if pg else sa.JSON(),
            nullable=False,
            server_default=sa.text("'[]'"),
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_index("ix_event_outbox_next_attempt_at", "event_outbox", ["next_attempt_at"])


def downgrade():
    op.drop_index("ix_event_outbox_next_attempt_at", table_name="event_outbox")
    op.drop_table("event_outbox")
    op.drop_index("uq_customer_address_one_default", table_name="customer_address")
    op.drop_index("uq_admin_user_lower_email", table_name="admin_user")
    # Before the batch operation: SQLite rebuilds the table and cannot carry
    # an expression index across.
    op.drop_index("uq_customer_lower_email", table_name="customer")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("password_changed_at")
