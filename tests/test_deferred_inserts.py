"""Rows a write inserts without reading them back (the outbox row, the
timeline entry) travel with its COMMIT on PostgreSQL, and behave as if they
had been inserted at once (docs/architecture.md, "Inserts sent with the
commit")."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.db import db
from app.deferred_inserts import insert_later, update_later
from app.errors import Conflict
from app.events import emit
from app.transactions import transaction
from plugins.customer.models import Customer
from plugins.timeline.models import CustomerEvent
from tests.helpers import event_names, query, round_trips, wire_messages, wire_of_a_customer_patch

NOTE = "customer_note_added"


@pytest.fixture
def postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("SQLite inserts held rows at once")


def queries(messages) -> list[str]:
    """The simple-protocol messages the service sent (BEGIN, COMMIT, batches)."""
    return [text for direction, message, text in messages if (direction, message) == ("F", "Query")]


def outbox_count(app) -> int:
    return query(app, "SELECT count(*) FROM event_outbox")[0][0]


# --- on the wire -------------------------------------------------------------------------


def test_a_patch_sends_its_event_and_timeline_rows_with_the_commit(
    app, client, auth, postgresql_only
):
    response, messages = wire_of_a_customer_patch(app, client, auth)

    assert response.status_code == 200, response.json
    # The admin (BEGIN with it), the customer with its verification row, and
    # one message with the UPDATE, both inserts and the COMMIT.
    assert round_trips(messages) == 3
    last = queries(messages)[-1]
    assert last.startswith('"INSERT INTO event_outbox ')
    assert "UPDATE customer SET " in last
    assert "INSERT INTO customer_event " in last
    assert last.endswith('COMMIT"')


def test_creating_an_address_sends_its_event_with_the_commit(app, client, auth, postgresql_only):
    customer = auth.create_customer()
    headers = auth.admin_headers()
    address = {
        "full_name": "Jane Doe",
        "telephone": "5550100",
        "address_1": "1 Main St",
        "city": "Springfield",
        "country": "US",
        "province": "US-IL",
        "postcode": "62701",
    }

    response, messages = wire_messages(
        app,
        lambda: client.post(
            f"/api/customers/{customer['uuid']}/addresses", json=address, headers=headers
        ),
    )

    assert response.status_code == 201, response.json
    sent_alone = [text for _, message, text in messages if "INSERT INTO event_outbox" in text]
    assert len(sent_alone) == 1
    assert sent_alone[0].endswith('COMMIT"')


@pytest.mark.parametrize("existing", [0, 1], ids=["first", "second"])
def test_creating_an_address_sends_its_insert_with_the_commit(
    app, client, auth, postgresql_only, existing
):
    customer = auth.create_customer()
    headers = auth.admin_headers()
    path = f"/api/customers/{customer['uuid']}/addresses"
    body = {"address_1": "1 Main St", "city": "Springfield", "country": "US"}
    for _ in range(existing):
        client.post(path, json=body | {"full_name": "Before"}, headers=headers)

    response, messages = wire_messages(
        app, lambda: client.post(path, json=body | {"full_name": "New"}, headers=headers)
    )

    assert response.status_code == 201, response.json
    made = response.json["data"]
    # The admin (BEGIN with it), the customer (locked), the new id with
    # whether the customer has an address, then one message: the INSERT,
    # the event, COMMIT.
    assert round_trips(messages) == 4
    last = queries(messages)[-1]
    assert re.search(
        r"INSERT INTO customer_address \([^)]*\) OVERRIDING SYSTEM VALUE VALUES "
        rf"\({made['customer_address_id']}, ",
        last,
    )
    assert last.endswith('COMMIT"')
    assert made["is_default"] is (existing == 0)
    assert query(
        app,
        "SELECT uuid::text, full_name, is_default FROM customer_address"
        f" WHERE customer_address_id = {made['customer_address_id']}",
    ) == [(made["uuid"], "New", existing == 0)]


def test_creating_a_customer_checks_its_group_and_email_in_one_round_trip(
    app, client, auth, postgresql_only
):
    headers = auth.admin_headers()
    body = {"email": "new@example.com", "password": "customer-pass-1", "full_name": "New"}

    response, messages = wire_messages(
        app, lambda: client.post("/api/customers", json=body, headers=headers)
    )

    assert response.status_code == 201, response.json
    # The admin (BEGIN with it), the group (locked) with whether the email
    # is taken, the INSERT, then the events with the COMMIT: the new
    # customer's verification row is known not to exist.
    assert round_trips(messages) == 4
    texts = [text for _, message, text in messages if message in ("Parse", "Query")]
    assert [text for text in texts if "FOR KEY SHARE" in text and "EXISTS" in text]


def test_a_new_customer_with_an_unknown_group_and_a_taken_email_gets_the_group_error(client, auth):
    auth.create_customer(email="taken@example.com")

    response = client.post(
        "/api/customers",
        json={
            "email": "Taken@example.com",
            "password": "customer-pass-1",
            "full_name": "Taken",
            "group_id": 999,
        },
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"] == [
        {"field": "group_id", "message": "No customer group has this id."}
    ]


def two_addresses(client, auth) -> tuple[dict, dict, dict, dict]:
    """A customer with a default address and another one, and admin headers."""
    customer = auth.create_customer()
    headers = auth.admin_headers()
    made = [
        client.post(
            f"/api/customers/{customer['uuid']}/addresses",
            json={
                "full_name": name,
                "address_1": "1 Main St",
                "city": "Springfield",
                "country": "US",
            },
            headers=headers,
        ).json["data"]
        for name in ("First Default", "Second")
    ]
    return customer, made[0], made[1], headers


def test_a_default_switch_sends_both_updates_with_the_commit(app, client, auth, postgresql_only):
    customer, first, second, headers = two_addresses(client, auth)
    path = f"/api/customers/{customer['uuid']}/addresses/{second['uuid']}"

    response, messages = wire_messages(
        app, lambda: client.patch(path, json={"is_default": True}, headers=headers)
    )

    assert response.status_code == 200, response.json
    # The admin (BEGIN with it), the customer, the address with the current
    # default (both locked, one statement), then one message: the two
    # UPDATEs, the events, COMMIT.
    assert round_trips(messages) == 4
    last = queries(messages)[-1]
    assert last.count("UPDATE customer_address SET ") == 2
    # The previous default is cleared first: the partial unique index allows one default.
    cleared = re.search(
        rf"UPDATE customer_address SET [^;]*is_default = false[^;]*"
        rf" WHERE customer_address_id = {first['customer_address_id']};",
        last,
    )
    made = re.search(
        rf"UPDATE customer_address SET [^;]*is_default = true[^;]*"
        rf" WHERE customer_address_id = {second['customer_address_id']};",
        last,
    )
    assert cleared and made and cleared.start() < made.start()
    assert last.endswith('COMMIT"')
    assert query(app, "SELECT full_name FROM customer_address WHERE is_default") == [("Second",)]


@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"city": "Elsewhere"}), ("patch", {"is_default": True}), ("delete", None)],
    ids=["patch", "patch-default", "delete"],
)
def test_an_address_deleted_past_the_service_during_a_write_is_a_404(
    app, client, auth, postgresql_only, method, body
):
    # EverShop shares the table and does not lock the customer first: the
    # write waits on the address row and finds it gone, instead of answering
    # 200 for an UPDATE that wrote nothing.
    customer, _, second, headers = two_addresses(client, auth)
    path = f"/api/customers/{customer['uuid']}/addresses/{second['uuid']}"
    events_before = outbox_count(app)
    with app.app_context():
        other = db.engine.connect()
    try:
        other.execute(
            sa.text("DELETE FROM customer_address WHERE uuid = :uuid"),
            {"uuid": uuid.UUID(second["uuid"])},
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            send = getattr(app.test_client(), method)
            writing = pool.submit(lambda: send(path, json=body, headers=headers))
            # Still waiting for the row the open DELETE holds.
            assert not wait([writing], timeout=1).done
            other.commit()
            response = writing.result(timeout=30)
    finally:
        other.close()

    assert response.status_code == 404, response.json
    assert outbox_count(app) == events_before
    # The default stays as it was.
    assert query(app, "SELECT full_name FROM customer_address WHERE is_default") == [
        ("First Default",)
    ]


# --- as if inserted at once --------------------------------------------------------------


def test_a_held_row_is_seen_by_the_next_statement_of_the_same_write(app):
    with app.app_context():
        with transaction():
            emit(NOTE, {"customer_id": None})
            seen = db.session.scalar(sa.text("SELECT count(*) FROM event_outbox"))
        db.session.remove()

    assert seen == 1
    assert outbox_count(app) == 1


def test_a_write_that_fails_leaves_no_held_row_behind(app, events):
    with app.app_context():
        with pytest.raises(RuntimeError), transaction():
            emit(NOTE, {"n": 1})
            raise RuntimeError("the write fails")
        # The same session, and so the same connection, writes again.
        with transaction():
            emit(NOTE, {"n": 2})
        db.session.remove()

    assert [payload for _, payload in events()] == [{"n": 2}]


def test_rows_held_inside_a_rolled_back_savepoint_are_not_written(app, events):
    with app.app_context():
        with transaction() as session:
            emit(NOTE, {"n": 1})
            savepoint = session.begin_nested()
            emit(NOTE, {"n": 2})
            savepoint.rollback()
            emit(NOTE, {"n": 3})
        db.session.remove()

    assert [payload for _, payload in events()] == [{"n": 1}, {"n": 3}]


def test_a_session_committed_outside_a_transaction_block_still_writes_held_rows(app, events):
    with app.app_context():
        emit(NOTE, {"n": 1})
        db.session.commit()
        db.session.remove()

    assert event_names(events) == [NOTE]


def test_values_reach_the_database_exactly_as_given(app, events):
    # Bound on the client on PostgreSQL: quotes, backslashes, percent signs,
    # placeholders and non-ASCII text must come back unchanged.
    payload = {
        "text": "O'Brien \\ 100% %s %(x)s $1 ; COMMIT; -- é ✓ 𝄞",
        "nested": {"list": [1, 2.5, None, True], "empty": ""},
    }

    with app.app_context():
        with transaction():
            emit(NOTE, payload)
        db.session.remove()

    assert events() == [(NOTE, payload)]


def test_a_held_row_the_database_refuses_fails_the_write_and_keeps_nothing(app, auth):
    customer = auth.create_customer()
    events_before = outbox_count(app)
    entry = {
        "uuid": uuid.uuid4(),
        "customer_id": 2_000_000_000,  # no such customer: the foreign key refuses it
        "event": NOTE,
        "actor_type": "system",
        "actor_id": None,
        "details": {},
        "created_at": datetime.now(UTC),
    }

    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError), transaction():
            db.session.execute(
                sa.update(Customer)
                .where(Customer.uuid == uuid.UUID(customer["uuid"]))
                .values(full_name="Changed")
            )
            emit(NOTE, {"n": 1})
            insert_later(db.session.connection(), CustomerEvent.__table__, [entry])
        # The connection goes on working.
        still = db.session.scalar(sa.text("SELECT count(*) FROM customer"))
        db.session.remove()

    assert still == 1
    assert query(app, "SELECT full_name FROM customer") == [(customer["full_name"],)]
    assert outbox_count(app) == events_before


def test_an_error_in_the_commit_message_shows_no_value(app, postgresql_only):
    # Values are bound on the client; like the engine's hide_parameters, the
    # error names the statements with placeholders only.
    entry = {
        "uuid": uuid.uuid4(),
        "customer_id": 2_000_000_000,
        "event": NOTE,
        "actor_type": "system",
        "actor_id": "jane.doe@example.com",
        "details": {},
        "created_at": datetime.now(UTC),
    }

    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError) as refused, transaction():
            insert_later(db.session.connection(), CustomerEvent.__table__, [entry])
        db.session.remove()

    message = str(refused.value)
    assert "INSERT INTO customer_event" in message
    assert "jane.doe@example.com" not in message
    assert str(entry["uuid"]) not in message


# --- what insert_later accepts -----------------------------------------------------------


def test_insert_later_refuses_rows_that_leave_out_a_python_side_default(app):
    with app.app_context():
        with pytest.raises(ValueError, match="uuid"), transaction():
            insert_later(
                db.session.connection(),
                CustomerEvent.__table__,
                [{"customer_id": 1, "event": NOTE, "actor_type": "system", "details": {}}],
            )
        db.session.remove()


def test_insert_later_refuses_a_column_the_table_does_not_have(app):
    with app.app_context():
        with pytest.raises(ValueError, match="no column colour"), transaction():
            insert_later(db.session.connection(), CustomerEvent.__table__, [{"colour": "red"}])
        db.session.remove()


# --- for plugins ---------------------------------------------------------------------------


def test_a_plugin_holds_rows_through_the_public_api(app, auth):
    from app.plugin_api import insert_later as plugin_insert_later

    auth.create_customer()
    entry = {
        "uuid": uuid.uuid4(),
        "customer_id": query(app, "SELECT customer_id FROM customer")[0][0],
        "event": "loyalty_points_awarded",
        "actor_type": "plugin",
        "actor_id": "loyalty",
        "details": {"points": 10},
        "created_at": datetime.now(UTC),
    }

    with app.app_context():
        with transaction():
            plugin_insert_later(CustomerEvent, [entry])
        db.session.remove()

    rows = query(
        app, "SELECT event, actor_id FROM customer_event WHERE event = :e", e=entry["event"]
    )
    assert rows == [("loyalty_points_awarded", "loyalty")]


def test_the_public_insert_later_refuses_to_run_outside_a_write(app):
    from app.plugin_api import insert_later as plugin_insert_later

    with app.app_context(), pytest.raises(RuntimeError, match="outside a transaction"):
        plugin_insert_later(CustomerEvent, [{"uuid": uuid.uuid4()}])


# --- updates held for the commit (update_later) --------------------------------------------


def customer_row(customer: dict) -> Customer:
    return db.session.scalar(
        sa.select(Customer).where(Customer.uuid == uuid.UUID(customer["uuid"])).with_for_update()
    )


def test_a_held_update_is_seen_by_the_next_statement_of_the_same_write(app, auth):
    customer = auth.create_customer()
    with app.app_context():
        with transaction() as session:
            row = customer_row(customer)
            row.full_name = "Held Name"
            update_later(session, row)
            seen = session.scalar(
                sa.text("SELECT full_name FROM customer WHERE customer_id = :id"),
                {"id": customer["customer_id"]},
            )
        db.session.remove()

    assert seen == "Held Name"
    assert query(app, "SELECT full_name FROM customer") == [("Held Name",)]


def test_a_held_update_is_dropped_with_a_rollback(app, auth):
    customer = auth.create_customer()
    with app.app_context():
        with pytest.raises(RuntimeError), transaction() as session:
            row = customer_row(customer)
            row.full_name = "Never Kept"
            update_later(session, row)
            raise RuntimeError("the write fails")
        db.session.remove()

    assert query(app, "SELECT full_name FROM customer") == [(customer["full_name"],)]


def test_a_held_update_that_breaks_a_unique_email_is_the_blocks_error(app, auth):
    first = auth.create_customer(email="first@example.com")
    second = auth.create_customer(email="second@example.com")
    with app.app_context():
        with pytest.raises(Conflict), transaction(unique={"email": Conflict("taken")}) as session:
            row = customer_row(second)
            row.email = first["email"]
            update_later(session, row)
        db.session.remove()

    assert sorted(query(app, "SELECT email FROM customer")) == [
        ("first@example.com",),
        ("second@example.com",),
    ]


def test_a_held_update_writes_values_exactly_as_given(app, auth):
    customer = auth.create_customer()
    name = "O'Brien \\ 100% %s %(x)s $1 ; COMMIT; -- é ✓ 𝄞"
    meta = {"note": "it's 50%", "nested": {"list": [1, None, True]}}
    with app.app_context():
        with transaction() as session:
            row = customer_row(customer)
            row.full_name = name
            row.meta_data = meta
            update_later(session, row)
        db.session.remove()
        row = db.session.scalar(sa.select(Customer))
        stored = (row.full_name, row.meta_data)
        db.session.remove()

    assert stored == (name, meta)


def test_columns_the_database_sets_on_update_are_read_again(app, auth):
    customer = auth.create_customer()
    with app.app_context():
        with transaction() as session:
            row = customer_row(customer)
            row.full_name = "Changed"
            update_later(session, row)
            # The database's own value, read after the held update was sent.
            assert row.token_version == session.scalar(
                sa.text("SELECT token_version FROM customer")
            )
        db.session.remove()


def hold_a_name_change(app, auth, before=None, after=None) -> tuple[bool, int]:
    """A customer's new name held with ``update_later`` (``before`` and
    ``after`` change the row around it): whether the row was still dirty
    then, and how many times the session flushed until its commit."""
    customer = auth.create_customer()
    flushes = []
    with app.app_context():
        with transaction() as session:
            sa.event.listen(session, "before_flush", lambda *args: flushes.append(args))
            row = customer_row(customer)
            row.full_name = "Held Name"
            if before:
                before(row)
            update_later(session, row)
            if after:
                after(row)
            dirty = row in session.dirty or session.is_modified(row)
        db.session.remove()
    return dirty, len(flushes)


def test_a_held_update_leaves_nothing_for_the_commit_to_flush(app, auth, postgresql_only):
    assert hold_a_name_change(app, auth) == (False, 0)
    assert query(app, "SELECT full_name FROM customer") == [("Held Name",)]


def test_a_value_set_again_to_what_it_was_leaves_the_row_clean(app, auth, postgresql_only):
    def same_status(row):
        row.status = row.status  # the same value: no change to write

    assert hold_a_name_change(app, auth, before=same_status) == (False, 0)
    assert query(app, "SELECT full_name FROM customer") == [("Held Name",)]


def test_a_held_update_in_a_rolled_back_savepoint_leaves_the_row_as_stored(
    app, auth, postgresql_only
):
    customer = auth.create_customer()
    with app.app_context():
        with transaction() as session:
            row = customer_row(customer)
            savepoint = session.begin_nested()
            row.full_name = "Never Kept"
            update_later(session, row)
            savepoint.rollback()
            seen = row.full_name
        db.session.remove()

    assert seen == customer["full_name"]
    assert query(app, "SELECT full_name FROM customer") == [(customer["full_name"],)]


def test_a_change_made_after_a_held_update_is_still_flushed(app, auth, postgresql_only):
    def disable(row):
        row.status = 0

    assert hold_a_name_change(app, auth, after=disable) == (True, 1)
    assert query(app, "SELECT full_name, status FROM customer") == [("Held Name", 0)]


def test_a_customer_update_sends_no_password_hash_in_sql_text(app, client, auth, postgresql_only):
    response, messages = wire_of_a_customer_patch(app, client, auth, {"password": "another-pass-2"})

    assert response.status_code == 200, response.json
    (stored,) = query(app, "SELECT password FROM customer")[0]
    # As a bound parameter (a Bind message), never in a statement's text.
    sql = [text for _, message, text in messages if message in ("Query", "Parse")]
    assert sql
    assert not [text for text in sql if stored in text]
    assert any(stored in text for _, message, text in messages if message == "Bind")


def patch_at_once(app, headers, patches: list[tuple[dict, dict]]) -> list:
    """Each ``(customer, body)`` PATCHed from a thread of its own, all let go
    at the same moment; the responses, in the order given."""
    barrier = threading.Barrier(len(patches))

    def patch(customer_and_body):
        customer, body = customer_and_body
        client = app.test_client()
        barrier.wait(timeout=60)
        return client.patch(f"/api/customers/{customer['uuid']}", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(patches)) as pool:
        return list(pool.map(patch, patches))


def test_concurrent_patches_to_one_email_leave_it_to_exactly_one_customer(app, auth):
    # Each UPDATE travels with its COMMIT: a race the email check cannot see
    # is still one 200 and 409s, and only the winner's event.
    admin = auth.admin_headers()
    racers = [auth.create_customer(email=f"racer{n}@example.com") for n in range(6)]
    events_before = outbox_count(app)

    responses = patch_at_once(app, admin, [(c, {"email": "won@example.com"}) for c in racers])
    answers = [(response.status_code, response.json) for response in responses]

    assert sorted(status for status, _ in answers) == [200] + [409] * (len(racers) - 1)
    assert all(
        body == {"error": {"status": 409, "message": "Email is already used"}}
        for status, body in answers
        if status == 409
    )
    assert query(app, "SELECT count(*) FROM customer WHERE email = 'won@example.com'") == [(1,)]
    assert outbox_count(app) == events_before + 1


def test_concurrent_patches_of_one_customer_all_land_one_after_the_other(app, auth):
    admin = auth.admin_headers()
    customer = auth.create_customer()
    names = [f"Name {n}" for n in range(6)]
    events_before = outbox_count(app)

    responses = patch_at_once(app, admin, [(customer, {"full_name": name}) for name in names])
    answers = [(r.status_code, r.json["data"]["full_name"]) for r in responses]

    assert sorted(answers) == [(200, name) for name in names]
    (stored,) = query(app, "SELECT full_name FROM customer")[0]
    assert stored in names
    assert outbox_count(app) == events_before + len(names)
