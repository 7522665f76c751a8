"""At most one default address per customer, kept by a trigger.

The unique index of 0002 refused EverShop's own writes: EverShop inserts (or
updates) the new default first and clears the old one afterwards, so its
"add a second default address" and "make this address the default" failed
with a duplicate key. A BEFORE trigger now clears the customer's other
defaults when a row becomes the default, before that row is written, so the
index (kept as the last word) never sees two, whichever application writes.
An address written with ``is_default`` false or null clears nothing: a
customer may have no default (docs/api.md).

On PostgreSQL the trigger first locks the customer's row (FOR NO KEY UPDATE,
which foreign-key checks do not wait for), so that two concurrent writes of
one customer's default follow each other and the second clears the first's.
SQLite has one writer at a time and needs no lock.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION customer_address_one_default() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM customer WHERE customer_id = NEW.customer_id FOR NO KEY UPDATE;
    UPDATE customer_address
       SET is_default = false, updated_at = CURRENT_TIMESTAMP
     WHERE customer_id = NEW.customer_id
       AND is_default
       AND customer_address_id <> NEW.customer_address_id;
    RETURN NEW;
END
$$
"""

PG_TRIGGER = """
CREATE TRIGGER customer_address_one_default
BEFORE INSERT OR UPDATE OF is_default, customer_id ON customer_address
FOR EACH ROW WHEN (NEW.is_default)
EXECUTE FUNCTION customer_address_one_default()
"""

# SQLite: one trigger per event. In a BEFORE INSERT the new row has no id yet,
# and is not in the table, so every other default of the customer is cleared.
SQLITE_TRIGGERS = {
    "customer_address_one_default_insert": """
CREATE TRIGGER customer_address_one_default_insert
BEFORE INSERT ON customer_address
FOR EACH ROW WHEN NEW.is_default
BEGIN
    UPDATE customer_address
       SET is_default = 0, updated_at = CURRENT_TIMESTAMP
     WHERE customer_id = NEW.customer_id AND is_default;
END
""",
    "customer_address_one_default_update": """
CREATE TRIGGER customer_address_one_default_update
BEFORE UPDATE OF is_default, customer_id ON customer_address
FOR EACH ROW WHEN NEW.is_default
BEGIN
    UPDATE customer_address
       SET is_default = 0, updated_at = CURRENT_TIMESTAMP
     WHERE customer_id = NEW.customer_id
       AND is_default
       AND customer_address_id <> NEW.customer_address_id;
END
""",
}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS customer_address_one_default ON customer_address")
        op.execute("DROP FUNCTION IF EXISTS customer_address_one_default()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
