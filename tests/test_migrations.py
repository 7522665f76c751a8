"""The Alembic revisions build EverShop's tables and the service's invariants
on both databases, and adopt a database that EverShop made."""

from __future__ import annotations

import threading
import uuid
import warnings
from datetime import UTC, datetime

import bcrypt
import pytest
import sqlalchemy as sa
from alembic import command
from flask_migrate import downgrade, upgrade

from app import create_app
from app.db import as_utc, db, write_connection
from app.migrations import alembic_config
from tests.conftest import PG_URL, _base_config, _drop_pg_database, _pg_url

EVERSHOP_COLUMNS = {
    "customer_group": {"customer_group_id", "uuid", "group_name", "created_at", "updated_at"},
    "customer": {
        "customer_id",
        "uuid",
        "status",
        "group_id",
        "email",
        "password",
        "full_name",
        "created_at",
        "updated_at",
        "meta_data",
    },
    "customer_address": {
        "customer_address_id",
        "uuid",
        "customer_id",
        "full_name",
        "telephone",
        "address_1",
        "address_2",
        "postcode",
        "city",
        "province",
        "country",
        "created_at",
        "updated_at",
        "is_default",
    },
    "reset_password_token": {"reset_password_token_id", "customer_id", "token", "created_at"},
    "admin_user": {
        "admin_user_id",
        "uuid",
        "status",
        "email",
        "password",
        "full_name",
        "created_at",
        "updated_at",
    },
}


@pytest.fixture
def empty_app(backend, tmp_path):
    """An app on an empty database of this test's backend, not yet migrated."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        base = _pg_url(PG_URL)
        name = f"{base.database}_migrations_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    app = create_app(_base_config(url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        _drop_pg_database(url)


def _execute(sql: str, **params):
    with db.engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def test_head_has_every_evershop_table_and_column(empty_app):
    upgrade()
    inspector = sa.inspect(db.engine)
    for table, columns in EVERSHOP_COLUMNS.items():
        assert columns <= {c["name"] for c in inspector.get_columns(table)}, table
    assert "event_outbox" in inspector.get_table_names()


def test_group_one_is_default(empty_app):
    upgrade()
    rows = _execute("SELECT customer_group_id, group_name FROM customer_group").all()
    assert [tuple(r) for r in rows] == [(1, "Default")]


def test_database_refuses_an_email_in_another_letter_case(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    with pytest.raises(sa.exc.IntegrityError):
        _execute("INSERT INTO customer (email, password) VALUES ('A@Example.com', 'x')")


ADD_ADDRESS = (
    "INSERT INTO customer_address (customer_id, country, is_default) VALUES (:customer, 'US', :d)"
)


def _defaults(customer_id: int = 1) -> list[int]:
    return list(
        _execute(
            "SELECT customer_address_id FROM customer_address"
            " WHERE customer_id = :c AND is_default ORDER BY customer_address_id",
            c=customer_id,
        ).scalars()
    )


def test_a_new_default_address_clears_the_customers_previous_default(empty_app):
    # EverShop inserts the new default first, then clears the old one itself.
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    _execute(ADD_ADDRESS, customer=1, d=True)
    _execute(ADD_ADDRESS, customer=1, d=False)

    _execute(ADD_ADDRESS, customer=1, d=True)

    assert _defaults() == [3]


def test_making_an_address_the_default_clears_the_customers_previous_default(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    _execute(ADD_ADDRESS, customer=1, d=True)
    _execute(ADD_ADDRESS, customer=1, d=False)

    _execute("UPDATE customer_address SET is_default = :d WHERE customer_address_id = 2", d=True)

    assert _defaults() == [2]


def test_a_non_default_address_leaves_the_default_and_other_customers_alone(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    _execute("INSERT INTO customer (email, password) VALUES ('b@example.com', 'x')")
    _execute(ADD_ADDRESS, customer=1, d=True)
    _execute(ADD_ADDRESS, customer=2, d=True)

    _execute(ADD_ADDRESS, customer=1, d=False)
    _execute(ADD_ADDRESS, customer=1, d=None)

    assert (_defaults(1), _defaults(2)) == ([1], [2])


def test_the_unique_index_of_one_default_per_customer_stays(empty_app):
    upgrade()

    indexes = {i["name"]: i for i in sa.inspect(db.engine).get_indexes("customer_address")}

    assert indexes["uq_customer_address_one_default"]["unique"]
    assert indexes["uq_customer_address_one_default"]["column_names"] == ["customer_id"]


def test_concurrent_default_addresses_of_one_customer_leave_one_default(empty_app):
    # Two writers, the second waiting on the first: PostgreSQL's trigger locks
    # the customer, SQLite has one writer at a time. Neither fails.
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    _execute(ADD_ADDRESS, customer=1, d=True)
    errors, engine = [], db.engine

    def second_writer():
        try:
            with write_connection(engine) as conn:
                conn.execute(sa.text(ADD_ADDRESS), {"customer": 1, "d": True})
        except Exception as error:  # reported below
            errors.append(error)

    with write_connection(engine) as first:
        first.execute(sa.text(ADD_ADDRESS), {"customer": 1, "d": True})
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), errors  # waiting for the first writer
    thread.join(15)

    assert errors == []
    assert _defaults() == [3]


def _token_state():
    row = _execute("SELECT token_version, password_changed_at FROM customer").one()
    changed_at = row.password_changed_at
    if isinstance(changed_at, str):  # SQLite's raw text
        changed_at = datetime.fromisoformat(changed_at)
    return row.token_version, as_utc(changed_at)


def test_a_password_change_moves_the_token_version_and_password_changed_at(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'old-hash')")
    assert _token_state() == (0, None)
    before = datetime.now(UTC).replace(microsecond=0)

    _execute("UPDATE customer SET password = 'new-hash'")

    version, changed_at = _token_state()
    assert version == 1
    assert before <= changed_at <= datetime.now(UTC)


def test_writing_the_same_password_again_revokes_nothing(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'same-hash')")

    _execute("UPDATE customer SET password = 'same-hash', full_name = 'A'")

    assert _token_state() == (0, None)


def test_a_password_change_that_also_moves_the_token_version_moves_it_by_one(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'old-hash')")

    _execute("UPDATE customer SET password = 'new-hash', token_version = token_version + 1")

    assert _token_state()[0] == 1


def test_an_admin_password_change_leaves_customer_tokens_alone(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'hash')")
    _execute("INSERT INTO admin_user (email, password) VALUES ('a@example.com', 'hash')")

    _execute("UPDATE admin_user SET password = 'new-hash'")

    assert _token_state() == (0, None)


def test_models_match_the_migrations(empty_app):
    # `flask db check`: no drift between the models and a migrated database
    upgrade()

    command.check(alembic_config())  # raises AutogenerateDiffsDetected on drift


def test_deleting_a_customer_cascades_to_addresses_and_reset_tokens(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    _execute("INSERT INTO customer_address (customer_id, country) VALUES (1, 'US')")
    _execute("INSERT INTO reset_password_token (customer_id, token) VALUES (1, 'abc')")
    _execute("DELETE FROM customer WHERE customer_id = 1")
    assert _execute("SELECT count(*) FROM customer_address").scalar() == 0
    assert _execute("SELECT count(*) FROM reset_password_token").scalar() == 0


def test_rows_inserted_without_uuid_or_group_get_database_defaults(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    row = _execute("SELECT uuid, group_id, status, meta_data FROM customer").one()
    assert uuid.UUID(str(row.uuid))
    assert (row.group_id, row.status) == (1, 1)


def test_downgrade_to_base_and_upgrade_again(empty_app):
    upgrade()
    downgrade(revision="base")
    assert "customer" not in sa.inspect(db.engine).get_table_names()
    upgrade()
    assert "event_outbox" in sa.inspect(db.engine).get_table_names()


def test_an_evershop_database_is_adopted_and_its_customers_log_in(empty_app):
    # EverShop's schema and a customer EverShop made (bcryptjs writes $2a$ hashes).
    upgrade(revision="0001")
    evershop_hash = bcrypt.hashpw(b"evershop-pass", bcrypt.gensalt(10)).decode()
    evershop_hash = "$2a$" + evershop_hash[4:]
    _execute(
        "INSERT INTO customer (email, password, full_name) VALUES (:e, :p, 'Eve Shop')",
        e="Eve@Example.com",
        p=evershop_hash,
    )
    upgrade()
    client = empty_app.test_client()
    response = client.post(
        "/api/customer/tokens", json={"email": "eve@example.com", "password": "evershop-pass"}
    )
    assert response.status_code == 200
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


# --- 0016: customer groups; 0017: sessions ----------------------------------------------


def _index_names(table: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        return {index["name"] for index in sa.inspect(db.engine).get_indexes(table)}


def test_database_refuses_a_group_name_in_another_letter_case(empty_app):
    upgrade()
    _execute("INSERT INTO customer_group (group_name) VALUES ('Wholesale')")
    with pytest.raises(sa.exc.IntegrityError):
        _execute("INSERT INTO customer_group (group_name) VALUES ('WHOLESALE')")


def test_customers_are_indexed_by_group(empty_app):
    upgrade()
    assert "ix_customer_group_id" in _index_names("customer")


def test_an_evershop_database_keeps_its_own_index_on_group_id(empty_app):
    # EverShop indexes customer.group_id itself: no second index is made.
    upgrade(revision="0001")
    _execute('CREATE INDEX "FK_CUSTOMER_GROUP" ON customer (group_id)')

    upgrade()
    assert "FK_CUSTOMER_GROUP" in _index_names("customer")
    assert "ix_customer_group_id" not in _index_names("customer")

    downgrade(revision="0005")
    assert "FK_CUSTOMER_GROUP" in _index_names("customer")


def test_groups_named_alike_stop_the_upgrade_and_change_nothing(empty_app):
    upgrade(revision="0005")
    _execute("INSERT INTO customer_group (group_name) VALUES ('Wholesale'), ('wholesale')")

    with pytest.raises(sa.exc.IntegrityError):
        upgrade()

    assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    assert "uq_customer_group_lower_group_name" not in _index_names("customer_group")


def test_sessions_revision_adds_its_table_and_columns(empty_app):
    upgrade()
    inspector = sa.inspect(db.engine)
    assert {c["name"] for c in inspector.get_columns("revoked_session")} == {
        "sid",
        "token_type",
        "expires_at",
    }
    for table in ("customer", "admin_user"):
        assert "tokens_revoked_at" in {c["name"] for c in inspector.get_columns(table)}


def test_downgrade_below_groups_and_sessions_and_upgrade_again(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")

    downgrade(revision="0005")
    inspector = sa.inspect(db.engine)
    assert "revoked_session" not in inspector.get_table_names()
    assert "tokens_revoked_at" not in {c["name"] for c in inspector.get_columns("customer")}
    assert "ix_customer_group_id" not in _index_names("customer")
    with pytest.raises(sa.exc.IntegrityError):
        _execute("INSERT INTO customer (email, password) VALUES ('A@example.com', 'x')")

    upgrade()
    assert _execute("SELECT count(*) FROM customer").scalar() == 1
