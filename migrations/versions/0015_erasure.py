"""Erasure on a customer's request: the links that confirm it (only a token's
SHA-256).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_erasure_token",
        sa.Column(
            "customer_erasure_token_id", sa.Integer, sa.Identity(always=True), primary_key=True
        ),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_index(
        "ix_customer_erasure_token_customer_id", "customer_erasure_token", ["customer_id"]
    )
    op.create_index(
        "uq_customer_erasure_token_token", "customer_erasure_token", ["token"], unique=True
    )


def downgrade():
    op.drop_index("uq_customer_erasure_token_token", table_name="customer_erasure_token")
    op.drop_index("ix_customer_erasure_token_customer_id", table_name="customer_erasure_token")
    op.drop_table("customer_erasure_token")
