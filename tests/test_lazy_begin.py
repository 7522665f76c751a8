"""On PostgreSQL a transaction's BEGIN travels in one message with its first
statement, and the transaction is exactly as atomic as with a BEGIN of its
own (docs/architecture.md, "Transactions")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import db, write_connection
from app.events import emit, emit_many
from app.transactions import transaction
from plugins.customer.models import Customer
from tests.conftest import BACKENDS
from tests.helpers import query, round_trips, wire_messages, wire_of_a_customer_patch

NOTE = "customer_note_added"


@pytest.fixture(params=[b for b in BACKENDS if b == "postgresql"])
def backend(request) -> str:
    # SQLite has its own BEGIN (app/db.py): these tests are PostgreSQL's.
    return request.param


def sent(messages) -> list[str]:
    """The text of every message that carried SQL (simple or extended protocol)."""
    return [text for direction, message, text in messages if message in ("Query", "Parse")]


def full_name(app, customer_uuid: str) -> str:
    return query(app, "SELECT full_name FROM customer WHERE uuid = :u", u=customer_uuid)[0][0]


def test_a_patch_sends_no_begin_of_its_own(app, client, auth):
    response, messages = wire_of_a_customer_patch(app, client, auth)

    assert response.status_code == 200, response.json
    texts = sent(messages)
    assert not [text for text in texts if text.strip('"').strip() == "BEGIN"]
    assert texts[0].startswith('"BEGIN;')  # with the request's first statement
    # The admin (with BEGIN), the customer with its verification row (read
    # with it), and the UPDATE and the inserts with the COMMIT.
    assert round_trips(messages) == 3


def test_a_write_that_only_emits_is_one_message(app, events):
    def write():
        with app.app_context():
            with transaction():
                emit(NOTE, {"customer_id": None})
            db.session.remove()

    _, messages = wire_messages(app, write)

    assert round_trips(messages) == 1
    (text,) = sent(messages)
    assert text.startswith('"BEGIN;')
    assert text.endswith('COMMIT"')
    assert query(app, "SELECT count(*) FROM event_outbox")[0][0] == 1


def test_a_transaction_that_sends_nothing_sends_no_begin(app):
    def nothing():
        with app.app_context():
            with transaction():
                pass
            db.session.remove()

    _, messages = wire_messages(app, nothing)

    assert sent(messages) == []


def test_values_of_the_first_statement_reach_the_database_exactly(app):
    value = 'O\'Brien \\ 100% "quoted" %(name)s ünïcødé 🛒'
    with app.app_context():
        with transaction():
            echoed = db.session.scalar(sa.select(sa.bindparam("v", value, type_=sa.String)))
        db.session.remove()

    assert echoed == value


def test_a_write_rolled_back_after_its_first_statement_keeps_nothing(app, auth):
    customer = auth.create_customer()
    with app.app_context():
        with pytest.raises(RuntimeError), transaction():
            db.session.execute(
                sa.update(Customer)
                .where(Customer.uuid == sa.bindparam("u"))
                .values(full_name="Changed"),
                {"u": customer["uuid"]},
            )
            raise RuntimeError("the write fails")
        db.session.remove()

    assert full_name(app, customer["uuid"]) == customer["full_name"]


def test_a_failing_first_statement_fails_the_write_and_the_next_one_works(app, auth):
    customer = auth.create_customer()
    with app.app_context():
        with pytest.raises(sa.exc.ProgrammingError), transaction():
            db.session.execute(sa.text("SELECT * FROM no_such_table"))
        with transaction():
            db.session.execute(
                sa.update(Customer)
                .where(Customer.uuid == sa.bindparam("u"))
                .values(full_name="After"),
                {"u": customer["uuid"]},
            )
        db.session.remove()

    assert full_name(app, customer["uuid"]) == "After"


def test_rows_copied_first_in_a_write_are_rolled_back_with_it(app, events):
    with app.app_context():
        with pytest.raises(RuntimeError), transaction():
            # COPY on the driver's own cursor, as the transaction's first statement.
            emit_many(NOTE, [{"n": 1}, {"n": 2}], db.session.connection())
            raise RuntimeError("the write fails")
        db.session.remove()

    assert query(app, "SELECT count(*) FROM event_outbox")[0][0] == 0


def test_a_write_connection_rolls_back_as_a_whole(app, auth):
    customer = auth.create_customer()
    with app.app_context(), pytest.raises(RuntimeError), write_connection() as conn:
        conn.execute(
            sa.update(Customer)
            .where(Customer.uuid == sa.bindparam("u"))
            .values(full_name="Changed"),
            {"u": customer["uuid"]},
        )
        raise RuntimeError("the write fails")

    assert full_name(app, customer["uuid"]) == customer["full_name"]


def test_connections_go_back_to_the_pool_transactional(app):
    with app.app_context():
        with transaction():
            db.session.execute(sa.text("SELECT 1"))
        db.session.remove()
        with db.engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False
            assert "begin_pending" not in conn.info


def test_a_first_statement_that_writes_has_begin_of_its_own_and_its_values_bound(app):
    # A write's values (a password hash here) never go into SQL text.
    secret = "$2b$10$" + "s" * 53

    def write():
        with app.app_context():
            with transaction():
                db.session.execute(
                    sa.insert(Customer).values(
                        email="first@example.com", password=secret, full_name="First", group_id=1
                    )
                )
            db.session.remove()

    _, messages = wire_messages(app, write)

    texts = sent(messages)
    assert texts[0].strip('"') == "BEGIN"
    assert not [text for text in texts if secret in text]
    assert query(app, "SELECT email FROM customer") == [("first@example.com",)]
