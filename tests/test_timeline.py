"""The customer timeline (docs/api.md, "Timeline"): an entry for every event
that names a customer, written in the transaction of the change (the core's
``event_emitted`` hook), with who acted — an admin, the customer, a plugin or
the system — and never personal data; admins' notes; the REST and GraphQL
reads."""

from __future__ import annotations

import json

import pluggy
import sqlalchemy as sa

from app.actors import acting_as_plugin
from app.db import db
from app.errors import Conflict
from app.events import EventType, emit
from app.transactions import transaction

hookimpl = pluggy.HookimplMarker("evershop")

EMAIL = "john.smith@example.com"
PASSWORD = "customer-pass-1"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def timeline(client, auth, customer, **query) -> dict:
    response = client.get(
        f"/api/customers/{customer['uuid']}/timeline",
        query_string=query,
        headers=auth.admin_headers(),
    )
    assert response.status_code == 200, response.json
    return response.json["data"]


def entries(client, auth, customer) -> list[tuple]:
    """(event, actor_type, actor_id, details), oldest first."""
    items = timeline(client, auth, customer, limit=100)["items"]
    return [(e["event"], e["actor_type"], e["actor_id"], e["details"]) for e in reversed(items)]


def _admin_id(auth) -> int:
    with auth.app.app_context():
        found = db.session.scalar(sa.text("SELECT admin_user_id FROM admin_user"))
        db.session.remove()
    return found


def raw_entries(app) -> str:
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM customer_event")).all()
        db.session.remove()
    return "\n".join(repr(tuple(row)) for row in rows)


class SessionsPlugin:
    """A plugin with an event of its own that names a customer."""

    revoked = EventType("customer_sessions_revoked", "Sessions of a customer were revoked.")
    bulk = EventType("customer_tags_cleared", "Tags were cleared on many customers.")

    @hookimpl
    def register_events(self):
        return [self.revoked, self.bulk]


def emit_in_app(app, name, payload) -> None:
    with app.app_context():
        with transaction():
            emit(name, payload)
        db.session.remove()


# --- what is recorded, and by whom --------------------------------------------------------


def test_creation_by_an_admin_is_recorded_with_the_admin(client, auth):
    customer = auth.create_customer()

    assert entries(client, auth, customer) == [
        ("customer_registered", "admin", str(_admin_id(auth)), {})
    ]


def test_signup_is_recorded_as_the_customers_own_doing(client, auth):
    response = client.post(
        "/api/customers", json={"email": EMAIL, "password": PASSWORD, "full_name": "John"}
    )
    customer = response.json["data"]
    me = str(customer["customer_id"])

    assert entries(client, auth, customer) == [
        ("customer_registered", "customer", me, {}),
        ("customer_email_verification_requested", "customer", me, {}),
    ]


def test_update_records_the_names_of_the_changed_fields_not_their_values(app, client, auth):
    customer = auth.create_customer()

    client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "Johnathan Q. Public", "email": "jq.public@example.com"},
        headers=auth.admin_headers(),
    )

    assert entries(client, auth, customer)[-1] == (
        "customer_updated",
        "admin",
        str(_admin_id(auth)),
        {"fields": ["email", "full_name"]},
    )
    text = raw_entries(app)
    assert "Johnathan" not in text and "jq.public" not in text and "john.smith" not in text


def test_customer_editing_its_name_is_recorded_as_the_customer(client, auth):
    customer = auth.create_customer()

    client.patch("/api/customers/me", json={"full_name": "Johnny"}, headers=auth.customer_headers())

    assert entries(client, auth, customer)[-1] == (
        "customer_updated",
        "customer",
        str(customer["customer_id"]),
        {"fields": ["full_name"]},
    )


def test_update_that_changes_nothing_records_nothing(client, auth):
    customer = auth.create_customer()

    client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": customer["full_name"]},
        headers=auth.admin_headers(),
    )

    assert [e[0] for e in entries(client, auth, customer)] == ["customer_registered"]


def test_password_change_is_recorded_as_a_changed_field_and_its_own_entry(client, auth):
    customer = auth.create_customer()

    client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"password": "another-pass-2"},
        headers=auth.admin_headers(),
    )

    assert [(e[0], e[3]) for e in entries(client, auth, customer)[1:]] == [
        ("customer_updated", {"fields": ["password"]}),
        ("customer_password_changed", {}),
    ]


def test_reset_request_is_recorded_as_the_password_plugins_doing(app, client, auth, runner):
    customer = auth.create_customer()
    client.post("/api/customers/reset-password", json={"email": EMAIL})

    runner.invoke(args=["events", "run", "--once"])

    assert entries(client, auth, customer)[-1] == (
        "reset_password_requested",
        "plugin",
        "password",
        {},
    )


def test_group_change_is_recorded_with_the_field(client, auth, app):
    with app.app_context():
        db.session.execute(sa.text("INSERT INTO customer_group (group_name) VALUES ('VIP')"))
        db.session.commit()
        group_id = db.session.scalar(sa.text("SELECT max(customer_group_id) FROM customer_group"))
        db.session.remove()
    customer = auth.create_customer()

    client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"group_id": group_id},
        headers=auth.admin_headers(),
    )

    assert entries(client, auth, customer)[-1][3] == {"fields": ["group_id"]}


def test_events_of_another_plugin_naming_a_customer_are_recorded(app, client, auth):
    app.extensions["plugins"].register(SessionsPlugin(), name="sessions")
    customer = auth.create_customer()

    emit_in_app(app, "customer_sessions_revoked", {"customer_id": customer["customer_id"]})
    with acting_as_plugin("sessions"):
        emit_in_app(app, "customer_sessions_revoked", {"customer_uuid": customer["uuid"]})

    assert entries(client, auth, customer)[1:] == [
        ("customer_sessions_revoked", "system", None, {}),
        ("customer_sessions_revoked", "plugin", "sessions", {}),
    ]


def test_event_naming_many_customers_makes_an_entry_for_each(app, client, auth):
    app.extensions["plugins"].register(SessionsPlugin(), name="sessions")
    first = auth.create_customer()
    second = auth.create_customer(email="second@example.com")

    emit_in_app(
        app,
        "customer_tags_cleared",
        {"customer_ids": [first["customer_id"], second["customer_id"]]},
    )

    assert entries(client, auth, first)[-1][0] == "customer_tags_cleared"
    assert entries(client, auth, second)[-1][0] == "customer_tags_cleared"


def test_events_naming_no_customer_make_no_entry(app, client, auth):
    customer = auth.create_customer()

    client.post("/api/customers/reset-password", json={"email": EMAIL})

    assert raw_entries(app).count("customer_registered") == 1
    assert len(timeline(client, auth, customer)["items"]) == 1


def test_customer_event_details_adds_a_plugins_details_to_its_entries(app, client, auth):
    class Sessions(SessionsPlugin):
        @hookimpl
        def customer_event_details(self, name, payload):
            if name == "customer_sessions_revoked":
                return {"sessions": payload["count"]}
            return None

    app.extensions["plugins"].register(Sessions(), name="sessions")
    customer = auth.create_customer()

    emit_in_app(
        app,
        "customer_sessions_revoked",
        {"customer_id": customer["customer_id"], "count": 3},
    )

    assert entries(client, auth, customer)[-1][3] == {"sessions": 3}
    assert entries(client, auth, customer)[0][3] == {}


def test_event_emitted_failure_rolls_back_the_change_and_its_entry(
    app, client, auth, register_plugin, events
):
    class Strict:
        # After the timeline wrote its entry.
        @hookimpl(trylast=True)
        def event_emitted(self, name, payload):
            if name == "customer_updated":
                raise Conflict("Updates are frozen.")

    customer = auth.create_customer()
    register_plugin(Strict(), name="strict")
    before = (raw_entries(app), events())

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "Changed"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 409
    assert (raw_entries(app), events()) == before


def test_event_emitted_is_called_with_each_event_inside_its_transaction(app, auth, register_plugin):
    seen = []

    class Watcher:
        @hookimpl
        def event_emitted(self, name, payload):
            count = db.session.scalar(
                sa.text("SELECT count(*) FROM customer WHERE customer_id = :id"),
                {"id": payload["customer_id"]},
            )
            seen.append((name, payload["email"], count))

    register_plugin(Watcher(), name="watcher")

    auth.create_customer()

    assert seen == [("customer_registered", EMAIL, 1)]


def test_deleting_a_customer_deletes_its_timeline(app, client, auth):
    customer = auth.create_customer()

    client.delete(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())

    assert raw_entries(app) == ""


# --- reading ------------------------------------------------------------------------------


def test_timeline_is_newest_first_and_paginated(client, auth):
    customer = auth.create_customer()
    for name in ("A", "B", "C", "D"):
        client.patch(
            f"/api/customers/{customer['uuid']}",
            json={"full_name": name},
            headers=auth.admin_headers(),
        )

    first = timeline(client, auth, customer, limit=2)
    second = timeline(client, auth, customer, limit=2, page=2)
    third = timeline(client, auth, customer, limit=2, page=3)

    assert (first["total"], first["currentPage"], first["limit"]) == (5, 1, 2)
    assert [e["event"] for e in first["items"] + second["items"] + third["items"]] == [
        "customer_updated"
    ] * 4 + ["customer_registered"]
    uuids = [e["uuid"] for e in first["items"] + second["items"] + third["items"]]
    assert len(set(uuids)) == 5
    entry = first["items"][0]
    assert set(entry) == {
        "uuid",
        "event",
        "actor_type",
        "actor_id",
        "details",
        "note",
        "created_at",
    }


def test_timeline_query_is_validated(client, auth):
    customer = auth.create_customer()
    path = f"/api/customers/{customer['uuid']}/timeline"

    for query in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"order": "asc"}):
        response = client.get(path, query_string=query, headers=auth.admin_headers())
        assert response.status_code == 400, query


def test_timeline_of_an_unknown_customer_is_404(client, auth):
    response = client.get(f"/api/customers/{UNKNOWN}/timeline", headers=auth.admin_headers())

    assert response.status_code == 404
    assert response.json == {"error": {"status": 404, "message": "Customer not found."}}


def test_customer_cannot_read_or_write_its_timeline(client, auth, app):
    customer = auth.create_customer()
    headers = auth.customer_headers()
    path = f"/api/customers/{customer['uuid']}/timeline"
    before = raw_entries(app)

    assert client.get(path, headers=headers).status_code == 403
    assert client.post(path, json={"note": "Me"}, headers=headers).status_code == 403
    assert client.get(path).status_code == 401
    assert raw_entries(app) == before


# --- notes --------------------------------------------------------------------------------


def test_admin_adds_a_note(client, auth, events):
    customer = auth.create_customer()

    response = client.post(
        f"/api/customers/{customer['uuid']}/timeline",
        json={"note": "  Called about a late delivery.  "},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 201, response.json
    assert response.headers["Location"] == f"/api/customers/{customer['uuid']}/timeline"
    entry = response.json["data"]
    assert (entry["event"], entry["actor_type"], entry["note"]) == (
        "customer_note_added",
        "admin",
        "Called about a late delivery.",
    )
    assert timeline(client, auth, customer)["items"][0] == entry
    assert events()[-1] == (
        "customer_note_added",
        {
            "customer_id": customer["customer_id"],
            "uuid": customer["uuid"],
            "entry_uuid": entry["uuid"],
        },
    )


def test_empty_or_overlong_note_is_400_and_writes_nothing(app, client, auth, events):
    customer = auth.create_customer()
    before = (raw_entries(app), events())

    for note in ("   ", "x" * 2001, None):
        response = client.post(
            f"/api/customers/{customer['uuid']}/timeline",
            json={"note": note},
            headers=auth.admin_headers(),
        )
        assert response.status_code == 400, note
        assert response.json["error"]["errors"][0]["field"] == "note"

    assert (raw_entries(app), events()) == before


def test_note_on_an_unknown_customer_is_404(client, auth):
    response = client.post(
        f"/api/customers/{UNKNOWN}/timeline", json={"note": "x"}, headers=auth.admin_headers()
    )

    assert response.status_code == 404


# --- GraphQL ------------------------------------------------------------------------------


def graphql(client, auth, query, variables=None):
    response = client.post(
        "/api/admin/graphql",
        json={"query": query, "variables": variables or {}},
        headers=auth.admin_headers(),
    )
    assert response.status_code == 200, response.json
    return response.json


def test_graphql_customer_timeline_gives_the_newest_entries(client, auth):
    customer = auth.create_customer()
    client.patch(
        f"/api/customers/{customer['uuid']}", json={"full_name": "J"}, headers=auth.admin_headers()
    )

    result = graphql(
        client,
        auth,
        "query($id: String) { customer(id: $id) { timeline(limit: 1)"
        " { event actorType actorId details note createdAt { value } } } }",
        {"id": customer["uuid"]},
    )

    (entry,) = result["data"]["customer"]["timeline"]
    assert (entry["event"], entry["actorType"], entry["note"]) == (
        "customer_updated",
        "admin",
        None,
    )
    assert json.loads(entry["details"]) == {"fields": ["full_name"]}
    assert entry["createdAt"]["value"].isdigit()


def test_graphql_timeline_of_a_page_of_customers_costs_one_query(app, client, auth):
    for index in range(6):
        auth.create_customer(email=f"c{index}@example.com")
    query = """query($limit: ID) {
      customers(filters: [{key: "limit", operation: eq, value: $limit}]) {
        items { email timeline { event } }
      }
    }"""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    graphql(client, auth, query, {"limit": "1"})  # warm up
    counts = []
    for limit in ("1", "6"):
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            result = graphql(client, auth, query, {"limit": limit})
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts.append(len([s for s in statements if "customer_event" in s]))
        items = result["data"]["customers"]["items"]
        assert all(item["timeline"] == [{"event": "customer_registered"}] for item in items)
    assert counts == [1, 1]


def test_graphql_timeline_limit_out_of_range_is_an_error(client, auth):
    customer = auth.create_customer()

    result = graphql(
        client,
        auth,
        "query($id: String) { customer(id: $id) { timeline(limit: 0) { event } } }",
        {"id": customer["uuid"]},
    )

    assert result["data"]["customer"]["timeline"] is None
    assert result["errors"][0]["message"] == "Invalid limit: Must be between 1 and 100."


def test_timeline_is_not_in_the_storefront_schema(client, auth):
    auth.create_customer()

    response = client.post(
        "/api/graphql",
        json={"query": "{ currentCustomer { timeline { event } } }"},
        headers=auth.customer_headers(),
    )

    assert response.status_code == 400
