"""Event outbox: leases, so that no transaction stays open while a subscriber
works, and a failed state for events given up after EVENTS_MAX_AGE.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite the table is rebuilt with AUTOINCREMENT, so that an event's id
    # (its sequence) is never reused after the outbox empties.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "event_outbox",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("locked_by", sa.String(100)))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True)))


def downgrade():
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("expires_at")
        batch.drop_column("locked_by")
        batch.drop_column("locked_until")
