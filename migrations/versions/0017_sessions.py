"""Sessions: the sessions a customer or an admin logged out of, and a moment
before which every token an account holds is refused.

``revoked_session`` holds the session ids (the ``sid`` claim) of revoked
sessions until the last token of each has expired. ``tokens_revoked_at`` on
``customer`` and ``admin_user`` is when the account's tokens were last revoked
all at once: tokens without a token version (signed by EverShop) issued
before it are refused.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "revoked_session",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("token_type", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_session_expires_at", "revoked_session", ["expires_at"])
    for table in ("customer", "admin_user"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tokens_revoked_at", sa.DateTime(timezone=True)))


def downgrade():
    with warnings.catch_warnings():
        # SQLite rebuilds the tables, reflecting them (and the groups the
        # customers refer to): expression indexes cannot be reflected, and
        # the one that matters is made again after each rebuild.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        _drop_columns()
    op.drop_index("ix_revoked_session_expires_at", table_name="revoked_session")
    op.drop_table("revoked_session")


def _drop_columns():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("admin_user", "customer"):
        # SQLite rebuilds the table: its expression index cannot be carried across.
        if sqlite:
            op.drop_index(f"uq_{table}_lower_email", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tokens_revoked_at")
        if sqlite:
            op.create_index(f"uq_{table}_lower_email", table, [sa.text("lower(email)")], unique=True)
