"""A plugin field's rows read in the same statement as their customer
(``EntityField(read_with=...)``, docs/plugins.md, "Fields"): one round trip
less for a read or an update, and never a stale value."""

from __future__ import annotations

import marshmallow as ma
import pytest
import sqlalchemy as sa

from app.config import ConfigError
from app.db import db
from app.entity_fields import EntityField, EntityFields, rows_read_with
from plugins.customer.models import CustomerGroup
from plugins.verification.models import EmailVerification
from tests.helpers import count_statements

VERIFICATION = "customer_email_verification"


def reads_of(statements: list[str], table: str) -> list[str]:
    return [sql for sql in statements if table in sql]


def test_a_read_of_one_customer_brings_its_plugin_rows_in_the_same_statement(app, client, auth):
    customer = auth.create_customer(email_verified=True)
    headers = auth.admin_headers()

    response, statements = count_statements(
        app, lambda: client.get(f"/api/customers/{customer['uuid']}", headers=headers)
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["email_verified"] is True
    (read,) = reads_of(statements, VERIFICATION)
    assert "FROM customer LEFT OUTER JOIN customer_email_verification" in read


def test_a_customer_without_plugin_rows_shows_the_fields_defaults(app, client, auth):
    customer = auth.create_customer()
    headers = auth.admin_headers()

    response, statements = count_statements(
        app, lambda: client.get(f"/api/customers/{customer['uuid']}", headers=headers)
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["email_verified"] is False
    assert response.json["data"]["pending_email"] is None
    assert len(reads_of(statements, VERIFICATION)) == 1


def test_an_update_locks_only_the_customer_row_of_the_joined_read(app, client, auth, backend):
    customer = auth.create_customer()
    headers = auth.admin_headers()

    response, statements = count_statements(
        app,
        lambda: client.patch(
            f"/api/customers/{customer['uuid']}", json={"full_name": "Jane D"}, headers=headers
        ),
    )

    assert response.status_code == 200, response.json
    (read,) = reads_of(statements, VERIFICATION)
    if backend == "postgresql":
        assert read.rstrip().endswith("FOR UPDATE OF customer")


def test_a_field_written_by_the_update_shows_its_new_value(app, client, auth):
    # The rows read with the customer before the change are not shown after it.
    customer = auth.create_customer()

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email_verified": True},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["email_verified"] is True
    again = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert again.json["data"]["email_verified"] is True


def test_a_list_page_reads_plugin_rows_in_one_query_of_their_own(app, client, auth):
    for n in range(3):
        auth.create_customer(email=f"c{n}@example.com", email_verified=n == 1)
    headers = auth.admin_headers()

    response, statements = count_statements(
        app, lambda: client.get("/api/customers", headers=headers)
    )

    assert response.status_code == 200, response.json
    verified = {c["email"]: c["email_verified"] for c in response.json["data"]["items"]}
    assert verified == {"c0@example.com": False, "c1@example.com": True, "c2@example.com": False}
    (read,) = reads_of(statements, VERIFICATION)
    assert read.lstrip().startswith("SELECT customer_email_verification.")


def test_rows_read_with_outside_a_presentation_is_empty():
    assert rows_read_with(EmailVerification, [1, 2]) == {}


def field(**given) -> EntityField:
    return EntityField("extra", ma.fields.String(), **given)


def test_read_with_without_load_is_refused():
    with pytest.raises(ConfigError, match="has read_with but no load"):
        EntityFields("customer", {"p": [field(read_with=EmailVerification)]}, set(), "customer_id")


def test_read_with_a_class_without_the_entity_id_column_is_refused():
    with pytest.raises(ConfigError, match="give a mapped class with a column customer_id"):
        EntityFields(
            "customer",
            {"p": [field(load=lambda rows: {}, read_with=CustomerGroup)]},
            set(),
            "customer_id",
        )


def test_read_with_a_table_rather_than_a_mapped_class_is_refused(app):
    with app.app_context():
        table = db.metadata.tables[VERIFICATION]
    with pytest.raises(ConfigError, match="give a mapped class"):
        EntityFields(
            "customer",
            {"p": [field(load=lambda rows: {}, read_with=table)]},
            set(),
            "customer_id",
        )


def test_fields_that_read_with_one_class_share_one_join():
    fields = EntityFields(
        "customer",
        {
            "p": [
                EntityField("a", ma.fields.String(), load=dict, read_with=EmailVerification),
                EntityField("b", ma.fields.String(), load=dict, read_with=EmailVerification),
            ]
        },
        set(),
        "customer_id",
    )

    from plugins.customer.queries import BY_UUID

    one = fields._one_query(BY_UUID, lock=False)
    for statement in (one.query, one.columns):  # the ORM's, and the one sent
        assert str(statement).count("JOIN customer_email_verification") == 1
    assert fields.read_with == (EmailVerification,)


def test_the_joined_statement_is_built_once_per_statement_and_lock():
    # Building it per request costs more than running it (docs/performance.md).
    fields = EntityFields(
        "customer",
        {"p": [EntityField("a", ma.fields.String(), load=dict, read_with=EmailVerification)]},
        set(),
        "customer_id",
    )
    from plugins.customer.queries import BY_ID, BY_UUID

    locked = fields._one_query(BY_UUID, lock=True)

    assert fields._one_query(BY_UUID, lock=True) is locked
    assert fields._one_query(BY_UUID, lock=False) is not locked
    assert fields._one_query(BY_ID, lock=True) is not locked
    assert isinstance(sa.inspect(EmailVerification), sa.orm.Mapper)


# --- the objects read_one makes from the columns (app/driver_reads.py, loaded) --------


def read_one(app, customer: dict, work, lock: bool = False):
    """``work(session, row)`` with the customer read as the service reads it."""
    import uuid

    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_UUID

    with app.app_context():
        try:
            params = {"uuid": uuid.UUID(customer["uuid"])}
            row = fields().read_one(db.session, BY_UUID, params, lock=lock)
            return work(db.session, row)
        finally:
            db.session.remove()


def test_the_customer_read_is_persistent_and_unchanged(app, auth):
    customer = auth.create_customer(email="ann@example.com")

    def check(session, row):
        state = sa.inspect(row)
        assert state.persistent
        assert not session.dirty and not session.new
        assert not state.modified
        assert row.email == "ann@example.com"
        assert row.customer_id == customer["customer_id"]
        assert row.meta_data == {}
        return True

    assert read_one(app, customer, check, lock=True)


def test_a_change_to_the_customer_read_is_written(app, auth):
    customer = auth.create_customer(full_name="Ann")

    def change(session, row):
        row.full_name = "Ann B"
        assert row in session.dirty
        session.commit()

    read_one(app, customer, change, lock=True)

    with app.app_context():
        name = db.session.execute(
            sa.text("SELECT full_name FROM customer WHERE customer_id = :id"),
            {"id": customer["customer_id"]},
        ).scalar()
        db.session.remove()
    assert name == "Ann B"


def test_a_customer_the_session_holds_is_the_object_it_holds(app, auth):
    import uuid

    from plugins.customer.models import Customer
    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_UUID

    customer = auth.create_customer()
    with app.app_context():
        held = db.session.get(Customer, customer["customer_id"])
        found = fields().read_one(db.session, BY_UUID, {"uuid": uuid.UUID(customer["uuid"])})
        assert found is held
        db.session.remove()


def test_a_customer_the_session_holds_costs_one_statement(app, auth):
    import uuid

    from plugins.customer.models import Customer
    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_UUID

    customer = auth.create_customer(email_verified=True)
    with app.app_context():
        held = db.session.get(Customer, customer["customer_id"])
        sent: list[str] = []
        listener = lambda *args: sent.append(args[2])  # noqa: E731 - (conn, cursor, sql, ...)
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            found = fields().read_one(
                db.session, BY_UUID, {"uuid": uuid.UUID(customer["uuid"])}, lock=True
            )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert found is held
        assert len([sql for sql in sent if "FROM customer" in sql]) == 1
        db.session.remove()


def test_an_expired_customer_the_session_holds_is_read_again(app, auth):
    import uuid

    from plugins.customer.models import Customer
    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_UUID

    customer = auth.create_customer(full_name="Ann")
    with app.app_context():
        held = db.session.get(Customer, customer["customer_id"])
        db.session.commit()  # expires what the session holds
        with db.engine.begin() as other:  # changed by another writer meanwhile
            other.execute(
                sa.text("UPDATE customer SET full_name = 'Ann C' WHERE customer_id = :id"),
                {"id": customer["customer_id"]},
            )
        found = fields().read_one(db.session, BY_UUID, {"uuid": uuid.UUID(customer["uuid"])})
        assert found is held
        assert found.full_name == "Ann C"
        db.session.remove()


def test_a_plugin_row_read_with_the_customer_is_a_persistent_object(app, auth):
    customer = auth.create_customer(email="ann@example.com", email_verified=True)

    def check(session, row):
        kept = session.info["entity_rows_read_with"][("customer", row.customer_id)]
        verification = kept[EmailVerification]
        assert isinstance(verification, EmailVerification)
        assert sa.inspect(verification).persistent
        assert verification.customer_id == customer["customer_id"]
        assert verification.verified_email == "ann@example.com"
        return True

    assert read_one(app, customer, check)


def test_no_plugin_row_is_none(app, auth):
    customer = auth.create_customer()

    def check(session, row):
        kept = session.info["entity_rows_read_with"][("customer", row.customer_id)]
        assert kept == {EmailVerification: None}
        assert not any(
            isinstance(held, EmailVerification) for held in session.identity_map.values()
        )
        return True

    assert read_one(app, customer, check)


def test_an_unknown_customer_is_none(app):
    import uuid

    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_UUID

    with app.app_context():
        found = fields().read_one(db.session, BY_UUID, {"uuid": uuid.uuid4()}, lock=True)
        assert found is None
        assert not db.session.identity_map
        db.session.remove()


def test_the_customer_and_its_plugin_rows_are_read_on_the_drivers_cursor(app, backend):
    from app import driver_reads
    from plugins.customer.presenter import fields
    from plugins.customer.queries import BY_EMAIL, BY_ID, BY_UUID

    if backend != "postgresql":
        pytest.skip("the driver's cursor is psycopg's")
    with app.app_context():
        for statement in (BY_UUID, BY_ID, BY_EMAIL):
            for lock in (False, True):
                one = fields()._one_query(statement, lock)
                assert driver_reads._plan(one.columns, db.engine.dialect) is not None
