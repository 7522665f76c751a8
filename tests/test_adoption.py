"""Adopting a database that EverShop made (docs/evershop.md, "Adopting an
EverShop database"): plain ``flask db upgrade`` recognises EverShop's tables
and adopts them, after a pre-flight check that refuses, listing them, rows
that would break the migration; ``flask evershop check`` runs the same check,
and ``--fix`` resolves what it safely can.

EverShop's database is stood in for by revision 0001 (EverShop's tables as
EverShop makes them) without Alembic's version table; tests/evershop/ does the
same against the real EverShop.
"""

from __future__ import annotations

import bcrypt
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade as alembic_upgrade

from app import create_app, migrations
from app.db import db
from tests.conftest import _base_config, core_head

CORE_HEAD = core_head()


@pytest.fixture
def app(fresh_database_url):
    """An app on a database with EverShop's customer tables and no migrations of ours."""
    app = create_app(_base_config(fresh_database_url))
    with app.app_context():
        alembic_upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE alembic_version"))
        db.engine.dispose()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def execute(app, sql: str, **params):
    with app.app_context(), db.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return result.all() if result.returns_rows else None


def tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def customer_columns(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return {column["name"] for column in sa.inspect(conn).get_columns("customer")}


def versions(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(migrations.current_revisions(conn))


def add_customer(app, email: str, password: str = "$2b$04$" + "x" * 53) -> int:
    execute(app, "INSERT INTO customer (email, password) VALUES (:e, :p)", e=email, p=password)
    [(customer_id,)] = execute(app, "SELECT customer_id FROM customer WHERE email = :e", e=email)
    return customer_id


def add_address(app, customer_id: int, is_default, city: str | None = "Springfield") -> str:
    execute(
        app,
        "INSERT INTO customer_address (customer_id, full_name, address_1, city, country,"
        " is_default) VALUES (:c, 'Eve Shop', '1 Main St', :city, 'US', :d)",
        c=customer_id,
        city=city,
        d=is_default,
    )
    [(address_uuid,)] = execute(
        app,
        "SELECT uuid FROM customer_address ORDER BY customer_address_id DESC LIMIT 1",
    )
    return str(address_uuid)


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def evershop_hash(password: str) -> str:
    """What EverShop's bcryptjs stores: a ``$2a$`` hash at cost 10."""
    return "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()[4:]


# --- flask db upgrade -------------------------------------------------------------------


def test_db_upgrade_adopts_an_evershop_database(app):
    result = run(app, "db", "upgrade")

    assert result.exit_code == 0, result.output
    assert (
        "EverShop's customer tables found, without this service's migrations: adopting them"
        " (stamp 0001, EverShop's schema)\n"
    ) in result.output
    assert versions(app) == {CORE_HEAD}
    assert {"event_outbox", "customer"} <= tables(app)
    assert app.test_client().get("/readyz").status_code == 200


def test_a_customer_evershop_made_logs_in_after_the_adoption(app):
    add_customer(app, "Eve@Example.com", evershop_hash("evershop-pass"))
    assert run(app, "db", "upgrade").exit_code == 0

    response = app.test_client().post(
        "/api/customer/tokens", json={"email": "eve@example.com", "password": "evershop-pass"}
    )

    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_db_upgrade_refuses_emails_differing_only_in_case_listing_them_and_writes_nothing(app):
    first = add_customer(app, "Dup@Example.com")
    second = add_customer(app, "dup@example.com")

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert result.output.startswith("Error: the database was not migrated:\n")
    assert (
        "BLOCKS: 1 email shared, in different letter cases, by several customers"
        " (the service keeps emails unique whatever their case)\n"
        f"  dup@example.com: customer {first} <Dup@Example.com>, customer {second}"
        " <dup@example.com>\n"
    ) in result.output
    assert "1 finding block the migration; nothing was changed" in result.output
    assert "alembic_version" not in tables(app)
    assert "event_outbox" not in tables(app)
    assert "password_changed_at" not in customer_columns(app)


def test_db_upgrade_refuses_admin_emails_differing_only_in_case(app):
    execute(app, "INSERT INTO admin_user (email, password) VALUES ('Boss@Example.com', 'x')")
    execute(app, "INSERT INTO admin_user (email, password) VALUES ('boss@example.com', 'x')")

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert "  boss@example.com: admin user 1 <Boss@Example.com>, admin user 2" in result.output
    assert "alembic_version" not in tables(app)


def test_db_upgrade_refuses_several_default_addresses_listing_them(app):
    customer = add_customer(app, "eve@example.com")
    older = add_address(app, customer, True)
    newer = add_address(app, customer, True)

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert (
        "BLOCKS: 1 customer with several default addresses (the service keeps at most one)\n"
    ) in result.output
    assert f"  customer {customer} <eve@example.com>: " in result.output
    assert f"{older} (id 1), {newer} (id 2)\n" in result.output
    assert "alembic_version" not in tables(app)


def test_db_upgrade_runs_the_check_on_a_database_stamped_0001_by_hand(app):
    # the adoption documented before: `flask db stamp 0001`, then the upgrade
    add_customer(app, "Dup@Example.com")
    add_customer(app, "dup@example.com")
    assert run(app, "db", "stamp", "0001").exit_code == 0

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert "BLOCKS: 1 email shared" in result.output
    assert versions(app) == {"0001"}
    assert "event_outbox" not in tables(app)


def test_db_upgrade_refuses_a_database_with_only_some_of_evershops_tables(app):
    execute(app, "DROP TABLE reset_password_token")

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert result.output == (
        "Error: the database was not migrated:\nthe database has some of EverShop's customer"
        " tables (customer_group, customer, customer_address, admin_user) but not"
        " reset_password_token: it is not a database EverShop 2.2 made, and cannot be adopted\n"
    )
    assert "alembic_version" not in tables(app)


def test_db_upgrade_refuses_evershop_tables_older_than_2_2(app):
    # EverShop 2.2 added customer.meta_data; an older EverShop lacks it
    execute(app, "ALTER TABLE customer DROP COLUMN meta_data")

    result = run(app, "db", "upgrade")

    assert result.exit_code == 1
    assert "EverShop's tables lack customer.meta_data: upgrade EverShop to 2.2" in result.output
    assert "alembic_version" not in tables(app)


# --- flask evershop check ---------------------------------------------------------------------


def test_evershop_check_lists_what_differs_for_evershops_customers(app):
    customer = add_customer(app, "eve@example.com")
    address = add_address(app, customer, False, city=None)
    legacy = add_customer(app, "old@example.com", password="md5$abcdef")

    result = run(app, "evershop", "check")

    assert result.exit_code == 0, result.output
    assert result.output == (
        "note: 1 customer with addresses but no default one\n"
        f"  customer {customer} <eve@example.com>: 1 address\n"
        "  → nothing to do: the service allows it and does not pick one for them (an address"
        " becomes the default when one is made so); --fix leaves them\n"
        "note: 1 address without a city (EverShop does not ask for one; the service does)\n"
        f"  address {address} of customer {customer}\n"
        "  → nothing to do: they are read and listed as they are, with city null; a change"
        " that sends a city must give one, and new addresses need one; --fix leaves them\n"
        "note: 1 account whose password is not a bcrypt hash: they cannot log in here\n"
        f"  customer {legacy} <old@example.com>\n"
        "  → they log in again after a password reset; --fix leaves them\n"
        "note: EverShop accepts passwords of 6 characters or more; the service asks for 8"
        " (PASSWORD_MIN_LENGTH)\n"
        "  → nothing to do: shorter passwords set in EverShop still log in here; a new password"
        " set through the service must have 8. A hash does not tell a password's length, so"
        " the accounts cannot be listed\n"
        "nothing blocks the migration\n"
    )


def test_evershop_check_exits_1_while_something_blocks_the_migration(app):
    add_customer(app, "Dup@Example.com")
    add_customer(app, "dup@example.com")

    result = run(app, "evershop", "check")

    assert result.exit_code == 1
    assert "BLOCKS: 1 email shared" in result.output


def test_evershop_check_fix_keeps_each_customers_newest_default_address(app):
    customer = add_customer(app, "eve@example.com")
    first = add_address(app, customer, True)
    second = add_address(app, customer, True)
    newest = add_address(app, customer, True)

    result = run(app, "evershop", "check", "--fix")

    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"fixed: customer {customer} <eve@example.com>: kept address {newest} as the default,"
        f" cleared the default of {second}, {first}\n"
    )
    assert result.output.endswith("nothing blocks the migration\n")
    defaults = execute(app, "SELECT uuid FROM customer_address WHERE is_default")
    assert [str(value) for (value,) in defaults] == [newest]
    assert run(app, "db", "upgrade").exit_code == 0


def test_evershop_check_fix_leaves_emails_differing_only_in_case(app):
    add_customer(app, "Dup@Example.com")
    add_customer(app, "dup@example.com")

    result = run(app, "evershop", "check", "--fix")

    assert result.exit_code == 1
    assert result.output.startswith("--fix: nothing it can resolve was found\nBLOCKS: ")
    emails = execute(app, "SELECT email FROM customer ORDER BY customer_id")
    assert [email for (email,) in emails] == ["Dup@Example.com", "dup@example.com"]


def test_evershop_check_on_a_database_without_evershops_tables_finds_nothing(fresh_database_url):
    app = create_app(_base_config(fresh_database_url))

    result = app.test_cli_runner().invoke(args=["evershop", "check"])

    assert result.exit_code == 0
    assert result.output == "no EverShop customer tables in this database: nothing to check\n"
    with app.app_context():
        db.engine.dispose()
