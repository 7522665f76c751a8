"""Token versions: tokens this service signs carry the account's version, and
a password change (or a revocation) moves it on, so that every older token is
refused exactly, whatever second it was issued in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("customer", "admin_user"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("token_version", sa.Integer, nullable=False, server_default="0")
            )


def downgrade():
    for table in ("admin_user", "customer"):
        # SQLite rebuilds the table: its expression index cannot be carried across.
        if op.get_bind().dialect.name == "sqlite":
            op.drop_index(f"uq_{table}_lower_email", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("token_version")
        if op.get_bind().dialect.name == "sqlite":
            op.create_index(f"uq_{table}_lower_email", table, [sa.text("lower(email)")], unique=True)
