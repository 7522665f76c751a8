"""The Alembic revisions build EverShop's tables and the service's invariants
on both databases, and adopt a database that EverShop made."""

from __future__ import annotations

import uuid
import warnings

import bcrypt
import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.db import db
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


def test_database_refuses_two_default_addresses_for_one_customer(empty_app):
    upgrade()
    _execute("INSERT INTO customer (email, password) VALUES ('a@example.com', 'x')")
    insert = "INSERT INTO customer_address (customer_id, country, is_default) VALUES (1, 'US', :d)"
    _execute(insert, d=True)
    _execute(insert, d=False)
    _execute(insert, d=False)
    with pytest.raises(sa.exc.IntegrityError):
        _execute(insert, d=True)


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


# --- 0011: customer groups; 0012: sessions ----------------------------------------------


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
