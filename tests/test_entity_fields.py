"""Plugin fields on customers and addresses (docs/plugins.md, "Fields"): a
field declared once is validated where it may be sent, stored in ``meta_data``
or the plugin's own table, and shown in every representation — reads, lists,
create and update answers, ``/me``, events, GraphQL (batched) and OpenAPI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import db
from tests.helpers import without_links
from tests.plugins import loyalty_fields

PLUGIN = "tests.plugins.loyalty_fields"
ADDRESS = {"full_name": "J S", "address_1": "1 Main St", "city": "Springfield", "country": "US"}


@pytest.fixture
def app(make_app):
    app = make_app(PLUGINS=[PLUGIN], EVENTS_DELIVERY="worker")
    with app.app_context():
        for table in (loyalty_fields.points_table, loyalty_fields.notes_table):
            table.drop(db.engine, checkfirst=True)
            table.create(db.engine)
        db.session.remove()
    loyalty_fields.loads.clear()
    yield app
    with app.app_context():
        for table in (loyalty_fields.points_table, loyalty_fields.notes_table):
            table.drop(db.engine, checkfirst=True)
        db.session.remove()


def give_points(app, customer: dict, points: int) -> None:
    with app.app_context():
        db.session.execute(
            sa.insert(loyalty_fields.points_table).values(
                customer_id=customer["customer_id"], points=points
            )
        )
        db.session.commit()
        db.session.remove()


def meta_data(app, customer: dict) -> dict:
    with app.app_context():
        value = db.session.scalar(
            sa.text("SELECT meta_data FROM customer WHERE customer_id = :id"),
            {"id": customer["customer_id"]},
        )
        db.session.remove()
    import json

    return value if isinstance(value, dict) else json.loads(value)


# --- input ---------------------------------------------------------------------------


def test_register_customer_fields_field_is_accepted_on_create_and_kept_in_meta_data(app, auth):
    customer = auth.create_customer(nickname="Johnny")

    assert customer["nickname"] == "Johnny"
    assert meta_data(app, customer) == {PLUGIN: {"nickname": "Johnny"}}


def test_plugin_field_with_a_bad_value_is_a_400_naming_it(client, auth):
    response = client.post(
        "/api/customers",
        json={
            "email": "john.smith@example.com",
            "password": "customer-pass-1",
            "full_name": "John Smith",
            "nickname": "x" * 41,
        },
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "nickname", "message": "Longer than maximum length 40."}
    ]


def test_read_only_plugin_field_in_a_body_is_an_unknown_field(client, auth):
    customer = auth.create_customer()

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"loyalty_points": 10},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["message"] == "Unknown field(s): loyalty_points."


def test_customer_sets_its_own_plugin_field_through_me(client, auth):
    auth.create_customer()

    response = client.patch(
        "/api/customers/me", json={"nickname": "J"}, headers=auth.customer_headers()
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["nickname"] == "J"


def test_visitor_sends_a_plugin_field_on_sign_up(client):
    response = client.post(
        "/api/customers",
        json={
            "email": "v@example.com",
            "password": "customer-pass-1",
            "full_name": "V",
            "nickname": "Vee",
        },
    )

    assert response.status_code == 201, response.json
    assert response.json["data"]["nickname"] == "Vee"


def test_changing_only_a_plugin_field_is_an_update_with_its_event(app, client, auth, events):
    customer = auth.create_customer(nickname="A")

    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"nickname": "B"}, headers=auth.admin_headers()
    )

    assert response.status_code == 200, response.json
    assert events()[-1] == ("customer_updated", {**without_links(response.json["data"])})
    assert meta_data(app, customer) == {PLUGIN: {"nickname": "B"}}


# --- every representation -------------------------------------------------------------


def test_plugin_fields_are_in_every_rest_answer(app, client, auth):
    created = auth.create_customer(nickname="Johnny")
    give_points(app, created, 30)
    admin = auth.admin_headers()
    path = f"/api/customers/{created['uuid']}"

    answers = {
        "read": client.get(path, headers=admin).json["data"],
        "list": client.get("/api/customers", headers=admin).json["data"]["items"][0],
        "update": client.patch(path, json={"full_name": "J"}, headers=admin).json["data"],
        "me": client.get("/api/customers/me", headers=auth.customer_headers()).json["data"],
    }

    assert created["loyalty_points"] == 0  # no row yet when it was created
    for name, answer in answers.items():
        assert (answer["nickname"], answer["loyalty_points"]) == ("Johnny", 30), name


def test_plugin_field_loader_is_called_once_for_a_whole_page(app, client, auth):
    for number in range(5):
        auth.create_customer(email=f"c{number}@example.com")
    loyalty_fields.loads.clear()

    response = client.get("/api/customers", headers=auth.admin_headers())

    assert response.status_code == 200
    assert loyalty_fields.loads == [5]


def test_plugin_fields_are_in_events(auth, events):
    auth.create_customer(nickname="Johnny")

    ((name, payload),) = events()
    assert name == "customer_registered"
    assert (payload["nickname"], payload["loyalty_points"]) == ("Johnny", 0)


def test_plugin_fields_are_graphql_fields_loaded_once_per_page(app, client, auth):
    for number in range(3):
        customer = auth.create_customer(email=f"c{number}@example.com", nickname=f"n{number}")
        give_points(app, customer, number)
    loyalty_fields.loads.clear()

    response = client.post(
        "/api/admin/graphql",
        json={"query": "{ customers { items { email nickname loyaltyPoints } } }"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    items = response.json["data"]["customers"]["items"]
    assert sorted((i["nickname"], i["loyaltyPoints"]) for i in items) == [
        ("n0", 0),
        ("n1", 1),
        ("n2", 2),
    ]
    assert loyalty_fields.loads == [3]


def test_plugin_fields_are_in_the_openapi_schemas(client):
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]

    assert schemas["Customer"]["properties"]["loyalty_points"]["x-plugin"] == PLUGIN
    assert "nickname" in schemas["CustomerWithLinks"]["properties"]
    assert "nickname" in schemas["CustomerCreate"]["properties"]
    assert "nickname" in schemas["SelfUpdate"]["properties"]
    assert "loyalty_points" not in schemas["CustomerUpdate"]["properties"]
    assert "delivery_notes" in schemas["Address"]["properties"]
    assert "delivery_notes" in schemas["AddressCreate"]["properties"]


def test_plugin_fields_are_absent_without_the_plugin(make_app):
    client = make_app().test_client()

    schemas = client.get("/api/openapi.json").json["components"]["schemas"]

    assert "nickname" not in schemas["Customer"]["properties"]


# --- addresses ---------------------------------------------------------------------------


def test_register_address_fields_field_is_saved_in_the_plugins_table(client, auth):
    customer = auth.create_customer()
    admin = auth.admin_headers()
    base = f"/api/customers/{customer['uuid']}/addresses"

    created = client.post(base, json={**ADDRESS, "delivery_notes": "Back door"}, headers=admin)
    listed = client.get(base, headers=admin)
    read = client.get(f"/api/customers/{customer['uuid']}", headers=admin)

    assert created.status_code == 201, created.json
    assert created.json["data"]["delivery_notes"] == "Back door"
    assert listed.json["data"][0]["delivery_notes"] == "Back door"
    assert read.json["data"]["addresses"][0]["delivery_notes"] == "Back door"


def test_address_plugin_field_update_and_its_graphql_field(client, auth):
    customer = auth.create_customer()
    admin = auth.admin_headers()
    base = f"/api/customers/{customer['uuid']}/addresses"
    address = client.post(base, json=ADDRESS, headers=admin).json["data"]

    updated = client.patch(
        f"{base}/{address['uuid']}", json={"delivery_notes": "Ring twice"}, headers=admin
    )
    graphql = client.post(
        "/api/admin/graphql",
        json={
            "query": "query($id: String) { customer(id: $id) { addresses { deliveryNotes } } }",
            "variables": {"id": customer["uuid"]},
        },
        headers=admin,
    )

    assert updated.status_code == 200, updated.json
    assert updated.json["data"]["delivery_notes"] == "Ring twice"
    assert graphql.json["data"]["customer"]["addresses"] == [{"deliveryNotes": "Ring twice"}]


# --- declarations that cannot work --------------------------------------------------------


def test_plugin_field_taking_a_name_of_the_service_stops_start_up(make_app, site_dir):
    site_dir(
        {
            "greedy_fields.py": """
                import pluggy
                from marshmallow import fields

                from app.entity_fields import EntityField

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def register_customer_fields():
                    return EntityField("email", fields.String())
            """
        }
    )
    from app.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS=["greedy_fields"])

    assert str(raised.value) == (
        "plugin greedy_fields: the customer field 'email' is already the service's"
    )


def test_extend_openapi_lets_a_plugin_change_the_document(make_app, site_dir):
    site_dir(
        {
            "documenting_plugin.py": """
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def extend_openapi(spec):
                    spec.components.schemas["Customer"]["description"] = "A shopper."
            """
        }
    )
    client = make_app(PLUGINS=["documenting_plugin"]).test_client()

    schemas = client.get("/api/openapi.json").json["components"]["schemas"]

    assert schemas["Customer"]["description"] == "A shopper."


def test_fields_kept_in_the_same_rows_share_one_query_per_answer(app, client, auth):
    # email_verified and pending_email both come from the verification plugin's rows.
    customer = auth.create_customer()
    statements = []

    def record(conn, cursor, statement, *_):
        statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert {"email_verified", "pending_email"} <= set(response.json["data"])
    # Both come in one statement: the customer's own (EntityField read_with).
    reads = [s for s in statements if "customer_email_verification" in s]
    assert len(reads) == 1, reads


def test_shared_load_outside_a_presentation_just_loads():
    from app.entity_fields import shared_load

    calls = []
    assert shared_load("key", lambda: calls.append(1) or "value") == "value"
    assert shared_load("key", lambda: calls.append(1) or "value") == "value"
    assert calls == [1, 1]


# --- the store's metafields beside the plugins' fields (docs/api.md, "Metafields") --


def test_meta_data_naming_a_plugins_namespace_is_a_400(app, client, auth):
    customer = auth.create_customer()
    response = client.patch(
        f"/api/customers/{customer['uuid']}/metafields",
        json={"metafields": {PLUGIN: {"nickname": "x"}}},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400, response.json
    assert PLUGIN in response.json["error"]["message"]


def test_metafield_writes_keep_the_plugins_keys(app, client, auth):
    customer = auth.create_customer(nickname="Johnny", meta_data={"custom": {"a": 1}})

    response = client.patch(
        f"/api/customers/{customer['uuid']}/metafields",
        json={"metafields": {"b": {"c": 2}}},
        headers=auth.admin_headers(),
    )

    assert response.json == {"data": {"metaData": {"b": {"c": 2}}}}
    assert meta_data(app, customer) == {"b": {"c": 2}, PLUGIN: {"nickname": "Johnny"}}


def test_plugin_field_writes_keep_the_metafields(app, client, auth):
    customer = auth.create_customer(meta_data={"custom": {"a": 1}})

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"nickname": "Jo"},
        headers=auth.admin_headers(),
    )

    assert response.json["data"]["meta_data"] == {"custom": {"a": 1}}
    assert response.json["data"]["nickname"] == "Jo"
    assert meta_data(app, customer) == {"custom": {"a": 1}, PLUGIN: {"nickname": "Jo"}}
