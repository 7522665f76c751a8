"""Webhooks: the endpoints other systems registered, and the log of each
delivery attempt to them (docs/webhooks.md).

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "webhook_endpoint",
        sa.Column(
            "webhook_endpoint_id", sa.Integer, sa.Identity(always=True), primary_key=True
        ),
        sa.Column("uuid", sa.Uuid, nullable=False, unique=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("events", postgresql.JSONB() if pg else sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("failure_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column(
            "webhook_delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            primary_key=True,
        ),
        sa.Column(
            "webhook_endpoint_id",
            sa.Integer,
            sa.ForeignKey(
                "webhook_endpoint.webhook_endpoint_id",
                name="fk_webhook_delivery_webhook_endpoint_id_webhook_endpoint",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("sequence", sa.BigInteger),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    # An endpoint's log, newest first; and the pruning of old entries.
    op.create_index(
        "ix_webhook_delivery_endpoint",
        "webhook_delivery",
        ["webhook_endpoint_id", "webhook_delivery_id"],
    )
    op.create_index("ix_webhook_delivery_created_at", "webhook_delivery", ["created_at"])


def downgrade():
    op.drop_index("ix_webhook_delivery_created_at", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_endpoint", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
