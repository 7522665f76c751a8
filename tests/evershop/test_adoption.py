"""Plain ``flask db upgrade`` adopts a database the real EverShop made, after
its pre-flight check (docs/evershop.md, "Adopting an EverShop database").
Each test copies a fresh database from EverShop's template."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import sqlalchemy as sa

from app import create_app
from app.db import db
from tests.evershop.conftest import _service_config
from tests.evershop.helpers import new_email

SERVICE_TABLES = {"alembic_version", "event_outbox"}
# What the adoption adds to EverShop's tables: columns with defaults (or null).
# The core's newest revision: the adoption applies them all.
HEAD = max(
    path.name.split("_")[0]
    for path in (Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("0*.py")
)
ADDED_COLUMNS = {
    ("customer", "password_changed_at", "timestamp with time zone", None, "YES"),
    ("customer", "token_version", "integer", "0", "NO"),
    ("admin_user", "token_version", "integer", "0", "NO"),
    ("customer", "tokens_revoked_at", "timestamp with time zone", None, "YES"),
    ("admin_user", "tokens_revoked_at", "timestamp with time zone", None, "YES"),
}


def run(url: str, statement: str, **params) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def schema(url: str) -> dict:
    """EverShop's tables as they are: columns (type, default, nullability),
    indexes and triggers."""
    return {
        "columns": set(
            run(
                url,
                "SELECT table_name, column_name, data_type, column_default, is_nullable"
                " FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name NOT IN ('alembic_version', 'event_outbox')",
            )
        ),
        "indexes": set(run(url, "SELECT tablename, indexname, indexdef FROM pg_indexes")),
        "triggers": set(
            run(
                url,
                "SELECT event_object_table, trigger_name, action_statement"
                " FROM information_schema.triggers",
            )
        ),
    }


def service(url: str):
    return create_app(_service_config(url))


def db_upgrade(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    with app.app_context():
        db.engine.dispose()
    return result


def add_customer(url: str, email: str, password: str = "evershop-pass-1") -> None:
    # What EverShop's sign-up writes: a bcryptjs ($2a$) hash at cost 10.
    hashed = "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()[4:]
    run(url, "INSERT INTO customer (email, password) VALUES (:e, :p)", e=email, p=hashed)


def test_plain_db_upgrade_adopts_a_fresh_evershop_database(fresh_evershop_database):
    app = service(fresh_evershop_database)

    result = db_upgrade(app)

    assert result.exit_code == 0, result.output
    assert "adopting them (stamp 0001, EverShop's schema)" in result.output
    assert app.test_client().get("/readyz").json == {"data": {"status": "ready", "revision": HEAD}}


def test_the_adoption_leaves_evershops_tables_as_evershop_made_them(fresh_evershop_database):
    before = schema(fresh_evershop_database)

    assert db_upgrade(service(fresh_evershop_database)).exit_code == 0

    after = schema(fresh_evershop_database)
    assert before["columns"] <= after["columns"]
    # Columns the adoption adds to EverShop's tables (its own tables aside).
    evershops = {column[0] for column in before["columns"]}
    added = {column for column in after["columns"] - before["columns"] if column[0] in evershops}
    assert added == ADDED_COLUMNS
    assert before["indexes"] <= after["indexes"]
    assert before["triggers"] <= after["triggers"]


def test_a_customer_evershop_made_logs_in_on_the_service_after_the_adoption(
    fresh_evershop_database,
):
    email = new_email()
    add_customer(fresh_evershop_database, email)
    app = service(fresh_evershop_database)
    assert db_upgrade(app).exit_code == 0

    answer = app.test_client().post(
        "/api/customer/tokens", json={"email": email, "password": "evershop-pass-1"}
    )

    assert answer.status_code == 200, answer.json


def test_the_pre_flight_check_refuses_emails_differing_only_in_case_and_lists_them(
    fresh_evershop_database,
):
    # EverShop's own unique constraint is case-sensitive: both sign-ups passed.
    add_customer(fresh_evershop_database, "Twin@Example.com")
    add_customer(fresh_evershop_database, "twin@example.com")
    before = schema(fresh_evershop_database)
    app = service(fresh_evershop_database)

    result = db_upgrade(app)

    assert result.exit_code == 1
    assert (
        "BLOCKS: 1 email shared, in different letter cases, by several customers"
        " (the service keeps emails unique whatever their case)\n"
        "  twin@example.com: customer 1 <Twin@Example.com>, customer 2 <twin@example.com>\n"
    ) in result.output
    assert schema(fresh_evershop_database) == before
    tables = {name for (name,) in run(fresh_evershop_database, "SELECT tablename FROM pg_tables")}
    assert not tables & SERVICE_TABLES


def test_evershop_check_fix_resolves_several_default_addresses_and_the_upgrade_runs(
    fresh_evershop_database,
):
    add_customer(fresh_evershop_database, "eve@example.com")
    for street in ("1 Old Street", "2 New Street"):
        run(
            fresh_evershop_database,
            "INSERT INTO customer_address (customer_id, full_name, address_1, city, province,"
            " country, postcode, is_default) VALUES (1, 'Eve', :street, 'Springfield', 'IL',"
            " 'US', '62701', true)",
            street=street,
        )
    [(older,), (newer,)] = run(
        fresh_evershop_database, "SELECT uuid FROM customer_address ORDER BY customer_address_id"
    )
    app = service(fresh_evershop_database)
    assert db_upgrade(app).exit_code == 1

    fixed = app.test_cli_runner().invoke(args=["evershop", "check", "--fix"])

    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.startswith(
        f"fixed: customer 1 <eve@example.com>: kept address {newer} as the default,"
        f" cleared the default of {older}\n"
    )
    assert run(fresh_evershop_database, "SELECT uuid FROM customer_address WHERE is_default") == [
        (newer,)
    ]
    assert db_upgrade(app).exit_code == 0
