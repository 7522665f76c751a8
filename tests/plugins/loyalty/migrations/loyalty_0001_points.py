"""Loyalty points: one row per customer, gone with the customer.

The first revision of the plugin's branch: labelled with the plugin's name,
and depending on the core revision whose ``customer`` table it refers to.

Revision ID: loyalty_0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "loyalty_0001"
down_revision = None
branch_labels = ("loyalty",)
depends_on = "0001"


def upgrade():
    op.create_table(
        "loyalty_points",
        sa.Column(
            "customer_id",
            sa.Integer,
            sa.ForeignKey(
                "customer.customer_id",
                name="fk_loyalty_points_customer_id_customer",
                ondelete="CASCADE",
            ),
            primary_key=True,
        ),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade():
    op.drop_table("loyalty_points")
