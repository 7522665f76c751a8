"""Verified emails: each customer's verification state and its outstanding
links (only a token's SHA-256). New tables only: EverShop's stay as they are.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_email_verification",
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("verified_email", sa.String(255)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("pending_email", sa.String(255)),
        sa.Column("pending_since", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "customer_email_token",
        sa.Column("customer_email_token_id", sa.Integer, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey("customer.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    op.create_index(
        "ix_customer_email_token_customer_id", "customer_email_token", ["customer_id"]
    )
    op.create_index("uq_customer_email_token_token", "customer_email_token", ["token"], unique=True)


def downgrade():
    op.drop_index("uq_customer_email_token_token", table_name="customer_email_token")
    op.drop_index("ix_customer_email_token_customer_id", table_name="customer_email_token")
    op.drop_table("customer_email_token")
    op.drop_table("customer_email_verification")
