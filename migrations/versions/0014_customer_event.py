"""The customer timeline: one row per thing that happened to an account.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "customer_event",
        sa.Column(
            "customer_event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            primary_key=True,
        ),
        sa.Column("uuid", sa.Uuid, nullable=False, unique=True),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("actor_type", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(100)),
        sa.Column(
            "details",
            postgresql.JSONB() if pg else sa.JSON(),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column("note", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_index(
        "ix_customer_event_customer_id_customer_event_id",
        "customer_event",
        ["customer_id", "customer_event_id"],
    )


def downgrade():
    op.drop_index("ix_customer_event_customer_id_customer_event_id", table_name="customer_event")
    op.drop_table("customer_event")
