"""Loyalty accounts and their entries, gone with the customer.

The first revision of the plugin's branch: labelled with the plugin's name
(its entry point name), and depending on the core revision that made the
``customer`` table it refers to.

Revision ID: loyalty_0001
Revises:
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "loyalty_0001"
down_revision = None
branch_labels = ("loyalty",)
depends_on = "0001"


def upgrade():
    op.create_table(
        "loyalty_account",
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey(
                "customer.customer_id",
                name="fk_loyalty_account_customer_id_customer",
                ondelete="CASCADE",
            ),
            primary_key=True,
        ),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("points >= 0", name="ck_loyalty_account_points_not_negative"),
    )
    op.create_table(
        "loyalty_entry",
        sa.Column("uuid", sa.Uuid, primary_key=True),
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey(
                "customer.customer_id",
                name="fk_loyalty_entry_customer_id_customer",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_loyalty_entry_customer_id", "loyalty_entry", ["customer_id"])


def downgrade():
    op.drop_index("ix_loyalty_entry_customer_id", table_name="loyalty_entry")
    op.drop_table("loyalty_entry")
    op.drop_table("loyalty_account")
