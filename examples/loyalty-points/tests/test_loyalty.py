"""The loyalty plugin, through the service's pytest plugin: a migrated
database, the service with this plugin (``evershop_plugins`` in
pyproject.toml), tokens of an admin and of customers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from app.plugin_api import Event, db

from evershop_loyalty import points


def read(client, customer, headers) -> dict:
    response = client.get(f"/api/customers/{customer['uuid']}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def entries(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                points.entries.c.customer_id, points.entries.c.points, points.entries.c.reason
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def adjust(client, customer, headers, **body):
    return client.post(
        f"/api/loyalty/customers/{customer['uuid']}/adjustments", json=body, headers=headers
    )


# --- sign-up points ------------------------------------------------------------------------


def test_a_new_customer_gets_the_sign_up_points(service_client, make_customer, admin_headers):
    customer = make_customer()

    assert read(service_client, customer, admin_headers)["loyalty_points"] == 100


def test_a_visitor_signing_up_gets_the_sign_up_points(
    service_app, service_client, customer_headers
):
    response = service_client.post(
        "/api/customers",
        json={"email": "visitor@example.com", "password": "customer-pass-1", "full_name": "V"},
    )
    assert response.status_code == 201, response.get_json()

    me = service_client.get("/api/customers/me", headers=customer_headers("visitor@example.com"))

    assert me.get_json()["data"]["loyalty_points"] == 100
    assert entries(service_app) == [(1, 100, "sign-up")]


@pytest.mark.service_config(LOYALTY_POINTS_ON_SIGNUP=5)
def test_loyalty_points_on_signup_sets_the_sign_up_points(
    service_client, make_customer, admin_headers
):
    customer = make_customer()

    assert read(service_client, customer, admin_headers)["loyalty_points"] == 5


@pytest.mark.service_config(LOYALTY_POINTS_ON_SIGNUP=0)
def test_no_sign_up_points_writes_nothing(
    service_app, service_client, make_customer, admin_headers
):
    customer = make_customer()

    assert read(service_client, customer, admin_headers)["loyalty_points"] == 0
    assert entries(service_app) == []


def test_a_disabled_account_gets_no_sign_up_points(
    service_app, service_client, make_customer, admin_headers
):
    customer = make_customer(status=0)

    assert read(service_client, customer, admin_headers)["loyalty_points"] == 0
    assert entries(service_app) == []


def test_customer_registered_delivered_twice_awards_the_points_once(
    service_app, service_client, make_customer, admin_headers
):
    customer = make_customer()
    event = Event(
        name="customer_registered",
        payload=customer,
        uuid=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        attempt=1,
    )

    with service_app.app_context():
        points.award_sign_up_points(event)
        points.award_sign_up_points(event)
        db.session.remove()

    assert read(service_client, customer, admin_headers)["loyalty_points"] == 200
    assert entries(service_app) == [(1, 100, "sign-up"), (1, 100, "sign-up")]


@pytest.mark.service_config(EVENTS_DELIVERY="worker")
def test_sign_up_points_wait_for_the_event_delivery(
    service_client, make_customer, admin_headers, deliver_events
):
    customer = make_customer()
    before = read(service_client, customer, admin_headers)["loyalty_points"]

    deliver_events()

    assert before == 0
    assert read(service_client, customer, admin_headers)["loyalty_points"] == 100


def test_customer_registered_for_a_customer_no_longer_there_awards_nothing(
    service_app, make_customer
):
    customer = make_customer()
    gone = {**customer, "customer_id": 2, "uuid": str(uuid.uuid4())}
    event = Event("customer_registered", gone, str(uuid.uuid4()), datetime.now(UTC), 1)

    with service_app.app_context():
        points.award_sign_up_points(event)
        db.session.remove()

    assert entries(service_app) == [(1, 100, "sign-up")]


# --- the field ----------------------------------------------------------------------------


def test_loyalty_points_are_in_the_customer_list(service_client, make_customer, admin_headers):
    make_customer()

    response = service_client.get("/api/customers", headers=admin_headers)

    assert [c["loyalty_points"] for c in response.get_json()["data"]["items"]] == [100]


def test_loyalty_points_are_in_graphql(service_client, make_customer, admin_headers):
    customer = make_customer()

    response = service_client.post(
        "/api/admin/graphql",
        json={
            "query": "query ($id: String) { customer(id: $id) { email loyaltyPoints } }",
            "variables": {"id": customer["uuid"]},
        },
        headers=admin_headers,
    )

    assert response.get_json() == {
        "data": {"customer": {"email": customer["email"], "loyaltyPoints": 100}}
    }


def test_loyalty_points_are_in_the_openapi_document(service_client):
    document = service_client.get("/api/openapi.json").get_json()

    schemas = document["components"]["schemas"]
    assert schemas["Customer"]["properties"]["loyalty_points"] == {
        "type": "integer",
        "description": "The customer's loyalty points.",
        "x-plugin": "loyalty",
    }
    assert "loyalty_points" not in schemas["CustomerCreate"]["properties"]


def test_loyalty_points_in_a_body_are_an_unknown_field(
    service_app, service_client, make_customer, admin_headers
):
    customer = make_customer()

    response = service_client.patch(
        f"/api/customers/{customer['uuid']}", json={"loyalty_points": 5000}, headers=admin_headers
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "Unknown field(s): loyalty_points."
    assert entries(service_app) == [(1, 100, "sign-up")]


# --- adjustments ---------------------------------------------------------------------------


def test_admin_adds_points(service_app, service_client, make_customer, admin_headers):
    customer = make_customer()

    response = adjust(service_client, customer, admin_headers, points=50, reason="goodwill")

    assert response.status_code == 200
    assert response.get_json() == {
        "data": {"customer_uuid": customer["uuid"], "loyalty_points": 150}
    }
    assert entries(service_app) == [(1, 100, "sign-up"), (1, 50, "goodwill")]


def test_admin_takes_points_down_to_zero(service_client, make_customer, admin_headers):
    customer = make_customer()

    response = adjust(service_client, customer, admin_headers, points=-100, reason="correction")

    assert response.get_json()["data"]["loyalty_points"] == 0


def test_taking_more_points_than_the_balance_is_refused(
    service_app, service_client, make_customer, admin_headers
):
    customer = make_customer()

    response = adjust(service_client, customer, admin_headers, points=-101, reason="correction")

    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == [
        {"field": "points", "message": "The balance would fall below 0: it is 100."}
    ]
    assert read(service_client, customer, admin_headers)["loyalty_points"] == 100
    assert entries(service_app) == [(1, 100, "sign-up")]


def test_adjusting_an_unknown_customer_is_a_404(service_client, admin_headers):
    response = adjust(
        service_client, {"uuid": str(uuid.uuid4())}, admin_headers, points=5, reason="x"
    )

    assert response.status_code == 404


def test_a_customer_cannot_adjust_its_own_points(
    service_app, service_client, make_customer, customer_headers
):
    customer = make_customer()

    response = adjust(
        service_client, customer, customer_headers(customer), points=1000, reason="mine"
    )

    assert response.status_code == 403
    assert entries(service_app) == [(1, 100, "sign-up")]


# --- the tables ----------------------------------------------------------------------------


def test_the_points_go_with_the_customer(service_app, service_client, make_customer, admin_headers):
    customer = make_customer()

    deleted = service_client.delete(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    assert deleted.status_code == 200
    assert entries(service_app) == []
    with service_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(points.accounts)) == 0
        db.session.remove()


def test_a_negative_sign_up_setting_stops_start_up(service_app_factory):
    with pytest.raises(Exception) as raised:
        service_app_factory(LOYALTY_POINTS_ON_SIGNUP=-1)

    assert str(raised.value) == (
        "plugin loyalty: LOYALTY_POINTS_ON_SIGNUP must be at least 0, got -1"
    )
