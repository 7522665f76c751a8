"""Customer groups managed through the API: a group's name is unique whatever
its letter case, and customers are found by group through an index.

EverShop's ``customer_group`` table is left as EverShop has it: only indexes
are added. EverShop creates its own index on ``customer.group_id``
(``FK_CUSTOMER_GROUP``); on a database it made, that one serves and no second
index is added.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _indexes(table: str) -> list[dict]:
    with warnings.catch_warnings():
        # SQLite's expression indexes (lower(email)) cannot be reflected; they
        # are not the ones looked for.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        return sa.inspect(op.get_bind()).get_indexes(table)


def _group_id_indexed() -> bool:
    return any(index["column_names"] == ["group_id"] for index in _indexes("customer"))


def upgrade():
    # Fails, changing nothing, when two groups' names differ only in letter
    # case (docs/api.md, "Customer groups"): rename one first.
    op.create_index(
        "uq_customer_group_lower_group_name",
        "customer_group",
        [sa.text("lower(group_name)")],
        unique=True,
    )
    if not _group_id_indexed():
        op.create_index("ix_customer_group_id", "customer", ["group_id"])


def downgrade():
    if "ix_customer_group_id" in {index["name"] for index in _indexes("customer")}:
        op.drop_index("ix_customer_group_id", table_name="customer")
    op.drop_index("uq_customer_group_lower_group_name", table_name="customer_group")
