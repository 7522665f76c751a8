"""Hot reads on the driver's cursor answer what SQLAlchemy answers, keep the
session's autoflush, the held rows and the deferred BEGIN, and fail as any
statement fails (docs/architecture.md, "Reads on the driver's cursor")."""

from __future__ import annotations

import datetime
import uuid

import pytest
import sqlalchemy as sa

from app import driver_reads
from app.config import load_config
from app.db import db, new_uuid, utcnow
from app.deferred_inserts import insert_later
from app.transactions import transaction
from plugins.address.models import CustomerAddress
from plugins.customer.models import Customer
from tests.helpers import query, round_trips, wire_messages

CUSTOMERS = Customer.__table__
ADDRESSES = CustomerAddress.__table__
# Every column but the hash, as the service's hot reads select them.
SHOWN = [column for column in CUSTOMERS.c if column.name != "password"]
BY_UUID = sa.select(*SHOWN).where(CUSTOMERS.c.uuid == sa.bindparam("uuid"))
BY_IDS = (
    sa.select(CUSTOMERS.c.customer_id, CUSTOMERS.c.email)
    .where(CUSTOMERS.c.customer_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(CUSTOMERS.c.customer_id)
)
NOT_BY_IDS = (
    sa.select(CUSTOMERS.c.customer_id)
    .where(CUSTOMERS.c.customer_id.not_in(sa.bindparam("ids", expanding=True)))
    .order_by(CUSTOMERS.c.customer_id)
)
# A literal of the statement's own (False) whose type converts it.
DEFAULT_FIRST = sa.select(
    ADDRESSES.c.full_name, sa.func.coalesce(ADDRESSES.c.is_default, False).label("default")
).where(ADDRESSES.c.customer_id == sa.bindparam("customer_id"))


class Shouted(sa.types.TypeDecorator):
    """A type that converts what it binds: its statements go through SQLAlchemy."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.lower()


BY_SHOUTED_EMAIL = sa.select(CUSTOMERS.c.customer_id).where(
    CUSTOMERS.c.email == sa.bindparam("email", type_=Shouted())
)


@pytest.fixture
def postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("the driver's cursor is psycopg's")


def customers(auth, *names: str) -> list[dict]:
    return [
        auth.create_customer(email=f"{name}@example.com", full_name=name.title()) for name in names
    ]


def read(app, work):
    with app.app_context():
        try:
            return work(db.session)
        finally:
            db.session.remove()


def test_a_row_reads_as_sqlalchemy_reads_it(app, auth):
    (customer,) = customers(auth, "ann")
    params = {"uuid": uuid.UUID(customer["uuid"])}

    row = read(app, lambda session: driver_reads.first(session, BY_UUID, params))
    expected = read(app, lambda session: session.execute(BY_UUID, params).first())

    assert tuple(row) == tuple(expected)
    assert row.email == "ann@example.com"
    assert row.uuid == uuid.UUID(customer["uuid"])
    assert isinstance(row.created_at, datetime.datetime)


def test_no_row_is_none(app):
    params = {"uuid": uuid.uuid4()}

    assert read(app, lambda session: driver_reads.first(session, BY_UUID, params)) is None


def test_an_expanding_in_reads_the_rows_of_the_list(app, auth):
    ann, bob, _ = customers(auth, "ann", "bob", "cid")
    ids = [bob["customer_id"], ann["customer_id"], 999_999]

    found = read(app, lambda session: driver_reads.rows(session, BY_IDS, {"ids": ids}))

    assert [tuple(row) for row in found] == [
        (ann["customer_id"], "ann@example.com"),
        (bob["customer_id"], "bob@example.com"),
    ]


def test_an_expanding_in_of_an_empty_list_reads_nothing(app, auth):
    customers(auth, "ann")

    assert read(app, lambda session: driver_reads.rows(session, BY_IDS, {"ids": []})) == []


def test_an_expanding_not_in_reads_the_rows_outside_the_list(app, auth):
    ann, bob = customers(auth, "ann", "bob")

    outside = read(
        app, lambda session: driver_reads.rows(session, NOT_BY_IDS, {"ids": [ann["customer_id"]]})
    )
    every = read(app, lambda session: driver_reads.rows(session, NOT_BY_IDS, {"ids": []}))

    assert [row.customer_id for row in outside] == [bob["customer_id"]]
    assert [row.customer_id for row in every] == [ann["customer_id"], bob["customer_id"]]


def test_a_literal_of_the_statement_is_bound_as_its_type_binds_it(app, client, auth):
    (customer,) = customers(auth, "ann")
    address = {"full_name": "Ann", "address_1": "1 Main St", "city": "X", "country": "US"}
    made = client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=address, headers=auth.admin_headers()
    )
    assert made.status_code == 201, made.json
    params = {"customer_id": customer["customer_id"]}

    rows = read(app, lambda session: driver_reads.rows(session, DEFAULT_FIRST, params))

    assert [tuple(row) for row in rows] == [("Ann", True)]


def test_a_value_its_type_converts_goes_through_sqlalchemy(app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")

    with app.app_context():
        assert driver_reads._plan(BY_SHOUTED_EMAIL, db.engine.dialect) is None
    found = read(
        app,
        lambda session: driver_reads.first(session, BY_SHOUTED_EMAIL, {"email": "ANN@EXAMPLE.COM"}),
    )

    assert found.customer_id == customer["customer_id"]


def test_orm_objects_go_through_sqlalchemy(app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")
    by_uuid = sa.select(Customer).where(Customer.uuid == sa.bindparam("uuid"))
    with app.app_context():
        assert driver_reads._plan(by_uuid, db.engine.dialect) is None

    found = read(
        app,
        lambda session: (
            driver_reads.first(session, by_uuid, {"uuid": uuid.UUID(customer["uuid"])})[0].email
        ),
    )

    assert found == "ann@example.com"


def test_a_label_that_is_a_python_keyword_goes_through_sqlalchemy(app, auth, postgresql_only):
    customers(auth, "ann")
    labelled = sa.select(CUSTOMERS.c.email.label("from"))
    with app.app_context():
        assert driver_reads._plan(labelled, db.engine.dialect) is None

    found = read(app, lambda session: driver_reads.rows(session, labelled, {}))

    assert [row._mapping["from"] for row in found] == ["ann@example.com"]


def test_pending_orm_changes_are_flushed_before_the_read(app):
    by_email = sa.select(CUSTOMERS.c.full_name).where(CUSTOMERS.c.email == sa.bindparam("email"))

    def work(session):
        session.add(Customer(email="new@example.com", password="x", full_name="New"))
        return driver_reads.first(session, by_email, {"email": "new@example.com"})

    found = read(app, work)  # and rolled back

    assert found.full_name == "New"
    assert query(app, "SELECT count(*) FROM customer") == [(0,)]


def test_held_rows_are_written_before_the_read(app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")
    now = utcnow()
    held = {
        "uuid": new_uuid(),
        "customer_id": customer["customer_id"],
        "full_name": "Held",
        "address_1": "1 Main St",
        "city": "X",
        "country": "US",
        "is_default": False,
        "created_at": now,
        "updated_at": now,
    }

    def work(session):
        with transaction():
            insert_later(session.connection(), ADDRESSES, [held])
            params = {"customer_id": customer["customer_id"]}
            return [row.full_name for row in driver_reads.rows(session, DEFAULT_FIRST, params)]

    assert read(app, work) == ["Held"]
    assert query(app, "SELECT full_name FROM customer_address") == [("Held",)]


def test_the_deferred_begin_goes_with_the_read(app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")
    params = {"uuid": uuid.UUID(customer["uuid"])}

    def work():
        with app.app_context():
            with transaction():
                row = driver_reads.first(db.session, BY_UUID, params)
            db.session.remove()
        return row

    row, messages = wire_messages(app, work)

    assert row.email == "ann@example.com"
    texts = [text for _, message, text in messages if message == "Query"]
    assert texts[0].startswith('"BEGIN;') and "FROM customer" in texts[0]
    assert round_trips(messages) == 2  # the read with BEGIN, the COMMIT


def test_a_database_error_is_wrapped_without_the_values(app, postgresql_only):
    failing = sa.select((sa.bindparam("n", type_=sa.Integer) // 0).label("x"))
    with app.app_context():
        assert driver_reads._plan(failing, db.engine.dialect) is not None

    with pytest.raises(sa.exc.DataError) as raised:
        read(app, lambda session: driver_reads.first(session, failing, {"n": 424242}))

    assert "division by zero" in str(raised.value)
    assert "parameters hidden" in str(raised.value)
    assert "424242" not in str(raised.value)


def test_a_number_goes_through_sqlalchemy(app, postgresql_only):
    # Whether a number becomes a Decimal depends on its type in the result.
    ratio = sa.select((sa.bindparam("n", type_=sa.Integer) / 4).label("x"))
    with app.app_context():
        assert driver_reads._plan(ratio, db.engine.dialect) is None

    found = read(app, lambda session: driver_reads.first(session, ratio, {"n": 3}))

    assert found.x == read(app, lambda session: session.execute(ratio, {"n": 3}).first()).x


def test_a_dropped_connection_is_recognised_and_replaced(app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")
    params = {"uuid": uuid.UUID(customer["uuid"])}

    def work(session):
        pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as raised:
            driver_reads.first(session, BY_UUID, params)
        assert raised.value.connection_invalidated
        session.rollback()
        return driver_reads.first(session, BY_UUID, params)

    assert read(app, work).email == "ann@example.com"


def test_driver_reads_are_on_unless_switched_off(tmp_path):
    assert load_config(str(tmp_path), {})["DATABASE_DRIVER_READS"] is True
    off = load_config(str(tmp_path), {"DATABASE_DRIVER_READS": "false"})
    assert off["DATABASE_DRIVER_READS"] is False


def test_switched_off_every_read_goes_through_sqlalchemy(make_app, auth, postgresql_only):
    (customer,) = customers(auth, "ann")
    params = {"uuid": uuid.UUID(customer["uuid"])}
    off = make_app(DATABASE_DRIVER_READS=False)

    through_sqlalchemy = read(off, lambda session: driver_reads.first(session, BY_UUID, params))
    on_the_cursor = read(auth.app, lambda session: driver_reads.first(session, BY_UUID, params))

    assert isinstance(through_sqlalchemy, sa.Row)
    assert not isinstance(on_the_cursor, sa.Row)
    assert tuple(through_sqlalchemy) == tuple(on_the_cursor)


# --- ORM objects made from the columns (entities, loaded) ------------------------------

ADDRESSES_OF = (
    sa.select(CustomerAddress)
    .where(CustomerAddress.customer_id == sa.bindparam("customer_id"))
    .order_by(CustomerAddress.customer_address_id)
)


def add_addresses(app, customer_id: int, *cities: str) -> None:
    with app.app_context():
        for city in cities:
            db.session.add(
                CustomerAddress(
                    uuid=new_uuid(),
                    customer_id=customer_id,
                    full_name="Ann",
                    address_1="1 Main St",
                    city=city,
                    country="US",
                    postcode="12345",
                    is_default=False,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        db.session.commit()
        db.session.remove()


def test_entities_are_the_objects_the_orm_reads(app, auth):
    (ann,) = customers(auth, "ann")
    add_addresses(app, ann["customer_id"], "Springfield", "Shelbyville")
    params = {"customer_id": ann["customer_id"]}

    def both(session):
        made = driver_reads.entities(session, ADDRESSES_OF, params)
        shown = [(a.customer_address_id, a.uuid, a.city, a.created_at) for a in made]
        states = [sa.inspect(a) for a in made]
        assert all(state.persistent and not state.modified for state in states)
        assert not session.dirty
        session.expunge_all()
        read = session.scalars(ADDRESSES_OF, params).all()
        return shown, [(a.customer_address_id, a.uuid, a.city, a.created_at) for a in read]

    made, expected = read(app, both)
    assert made == expected
    assert [city for *_, city, _ in made] == ["Springfield", "Shelbyville"]


def test_entities_of_no_row_are_an_empty_list(app, auth):
    (ann,) = customers(auth, "ann")

    found = read(
        app,
        lambda session: driver_reads.entities(
            session, ADDRESSES_OF, {"customer_id": ann["customer_id"]}
        ),
    )

    assert found == []


def test_an_entity_the_session_holds_is_the_object_it_holds(app, auth):
    (ann,) = customers(auth, "ann")
    add_addresses(app, ann["customer_id"], "Springfield", "Shelbyville")

    def check(session):
        first, second = session.scalars(ADDRESSES_OF, {"customer_id": ann["customer_id"]}).all()
        session.expunge(first)  # one held, one not
        found = driver_reads.entities(session, ADDRESSES_OF, {"customer_id": ann["customer_id"]})
        assert found[1] is second
        assert found[0] is not first and found[0].customer_address_id == first.customer_address_id
        return True

    assert read(app, check)


def test_a_change_to_an_entity_is_written(app, auth):
    (ann,) = customers(auth, "ann")
    add_addresses(app, ann["customer_id"], "Springfield")

    def change(session):
        (address,) = driver_reads.entities(
            session, ADDRESSES_OF, {"customer_id": ann["customer_id"]}
        )
        address.city = "Capital City"
        session.commit()
        return session.scalar(
            sa.select(ADDRESSES.c.city).where(ADDRESSES.c.customer_id == ann["customer_id"])
        )

    assert read(app, change) == "Capital City"


def test_entities_are_read_on_the_drivers_cursor(app, postgresql_only):
    with app.app_context():
        columns = driver_reads.as_columns(ADDRESSES_OF, (CustomerAddress,))
        assert driver_reads._plan(columns, db.engine.dialect) is not None
        assert driver_reads.as_columns(ADDRESSES_OF, (CustomerAddress,)) is columns
