"""A store plugin with a table of its own: loyalty points per customer.

What docs/plugins.md ("Tables and migrations") describes, working:

* ``migrations/`` holds its Alembic revisions. They form a branch labelled
  ``loyalty`` (the plugin's name), whose first revision ``depends_on`` the
  core revision that made the ``customer`` table it refers to.
  ``register_migrations`` hands the folder to the core, so ``flask db
  upgrade`` applies them with the core's, and ``/readyz`` names the plugin
  while they are behind.
* ``customer_extend_read`` adds ``loyalty_points`` to every customer read, in
  one query for all of them. Before the plugin's migrations ran, the query
  fails on the missing table; the core logs the plugin's name and the read
  goes on without the field.

The table is described with SQLAlchemy Core on a ``MetaData`` of its own; a
plugin may also declare models on ``app.db.db.Model`` (then `flask db check`
compares them too).

Tests install it as the entry point ``loyalty`` (tests/test_plugin_migrations.py).
"""

from __future__ import annotations

from pathlib import Path

import pluggy
import sqlalchemy as sa

from app.db import db

hookimpl = pluggy.HookimplMarker("evershop")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()
loyalty_points = sa.Table(
    "loyalty_points",
    metadata,
    sa.Column("customer_id", sa.Integer, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
)


@hookimpl
def register_migrations():
    return MIGRATIONS


@hookimpl
def customer_extend_read(customers):
    ids = [customer["customer_id"] for customer in customers]
    found = dict(
        db.session.execute(
            sa.select(loyalty_points.c.customer_id, loyalty_points.c.points).where(
                loyalty_points.c.customer_id.in_(ids)
            )
        ).all()
    )
    for customer in customers:
        customer["loyalty_points"] = found.get(customer["customer_id"], 0)
