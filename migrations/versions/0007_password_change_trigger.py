"""A change of ``customer.password`` revokes the customer's tokens, whichever
application makes it.

Until now only this service set ``password_changed_at`` (the rule for tokens
EverShop signs: issued before it, refused) and moved ``token_version`` on (the
rule for the tokens this service signs), so a password changed in EverShop
left every older token valid here. The database now does both, in one
trigger on the password column: when ``password`` takes a different value,
``password_changed_at`` becomes the moment of the change (to the second, as
tokens' ``iat`` is) and ``token_version`` becomes one more than it was. The
service's own password changes leave both to it (docs/api.md, "Revocation").
Writing the same hash again changes nothing, and revokes nothing.

PostgreSQL sets them on the row being written (BEFORE UPDATE); SQLite, whose
triggers cannot change the row being written, updates it right after (AFTER
UPDATE, in the same statement). Either way a value the UPDATE itself gave to
``token_version`` is replaced by the old one plus one, so a change never
moves it by two.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION customer_password_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.password_changed_at := date_trunc('second', statement_timestamp());
    NEW.token_version := OLD.token_version + 1;
    RETURN NEW;
END
$$
"""

PG_TRIGGER = """
CREATE TRIGGER customer_password_changed
BEFORE UPDATE OF password ON customer
FOR EACH ROW WHEN (NEW.password IS DISTINCT FROM OLD.password)
EXECUTE FUNCTION customer_password_changed()
"""

SQLITE_TRIGGER = """
CREATE TRIGGER customer_password_changed
AFTER UPDATE OF password ON customer
FOR EACH ROW WHEN NEW.password IS NOT OLD.password
BEGIN
    UPDATE customer
       SET password_changed_at = strftime('%Y-%m-%d %H:%M:%S', 'now'),
           token_version = OLD.token_version + 1
     WHERE customer_id = NEW.customer_id;
END
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade():
    op.execute(
        "DROP TRIGGER IF EXISTS customer_password_changed ON customer"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER IF EXISTS customer_password_changed"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS customer_password_changed()")
