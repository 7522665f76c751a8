"""Trigram indexes for the customer search (keyword, name and email contains).

PostgreSQL only: ``pg_trgm`` GIN indexes on lower(email) and lower(full_name)
serve ``lower(x) LIKE '%...%'``. SQLite has no such index; there the revision
does nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_customer_email_trgm "
        "ON customer USING gin (lower(email) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_customer_full_name_trgm "
        "ON customer USING gin (lower(full_name) gin_trgm_ops)"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_customer_full_name_trgm")
    op.execute("DROP INDEX IF EXISTS ix_customer_email_trgm")
