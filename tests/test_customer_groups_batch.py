"""Assigning customers to a group in batches (docs/api.md, "Customer
groups"): ``POST /api/customer-groups/{uuid}/customers`` with up to 1,000
customer uuids, all of them or none."""

from __future__ import annotations

import time

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db
from app.errors import Forbidden
from plugins.customer.models import Customer

hookimpl = pluggy.HookimplMarker("evershop")

GROUPS = "/api/customer-groups"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
OTHER_UNKNOWN = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def group(client, admin) -> dict:
    response = client.post(GROUPS, json={"group_name": "Wholesale"}, headers=admin)
    assert response.status_code == 201, response.json
    return response.json["data"]


def assign(client, headers, group: dict, uuids: list):
    return client.post(
        f"{GROUPS}/{group['uuid']}/customers", json={"customers": uuids}, headers=headers
    )


def customer_groups(app) -> dict[str, int | None]:
    """email -> group_id of every customer."""
    with app.app_context():
        rows = db.session.execute(sa.select(Customer.email, Customer.group_id)).all()
        db.session.remove()
    return dict(rows)


def add_customers(app, count: int) -> list[str]:
    """``count`` customers in the default group, written directly; their uuids."""
    with app.app_context():
        rows = [
            Customer(email=f"bulk{n:04}@example.com", password="x", full_name="B")
            for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        uuids = [str(row.uuid) for row in rows]
        db.session.remove()
    return uuids


def test_batch_assigns_every_customer_named(app, client, auth, admin, group, events):
    a = auth.create_customer(email="a@example.com")
    b = auth.create_customer(email="b@example.com")
    auth.create_customer(email="c@example.com")
    before = len(events())

    response = assign(client, admin, group, [a["uuid"], b["uuid"]])

    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"group": {**group, "customer_count": 2}, "assigned": 2, "unchanged": 0}
    }
    gid = group["customer_group_id"]
    assert customer_groups(app) == {"a@example.com": gid, "b@example.com": gid, "c@example.com": 1}
    assert [(name, p["email"], p["group_id"]) for name, p in events()[before:]] == [
        ("customer_updated", "a@example.com", gid),
        ("customer_updated", "b@example.com", gid),
    ]


def test_batch_leaves_customers_already_in_the_group_as_they_are(
    app, client, auth, admin, group, events
):
    a = auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    b = auth.create_customer(email="b@example.com")
    before = len(events())

    response = assign(client, admin, group, [a["uuid"], b["uuid"]])

    assert response.json["data"]["assigned"] == 1
    assert response.json["data"]["unchanged"] == 1
    assert [p["email"] for _, p in events()[before:]] == ["b@example.com"]


def test_batch_counts_a_customer_named_twice_once(app, client, auth, admin, group):
    a = auth.create_customer(email="a@example.com")

    response = assign(client, admin, group, [a["uuid"], a["uuid"].replace("-", "").upper()])

    assert response.status_code == 200, response.json
    assert (response.json["data"]["assigned"], response.json["data"]["unchanged"]) == (1, 0)


def test_batch_with_an_unknown_uuid_is_400_and_assigns_no_one(
    app, client, auth, admin, group, events
):
    a = auth.create_customer(email="a@example.com")
    b = auth.create_customer(email="b@example.com")
    before = events()

    response = assign(client, admin, group, [a["uuid"], UNKNOWN, b["uuid"], OTHER_UNKNOWN])

    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Invalid customers: 2 of the uuids name no customer;"
            " no customer was assigned.",
            "errors": [
                {"field": "customers.1", "message": f"No customer has the uuid {UNKNOWN}."},
                {"field": "customers.3", "message": f"No customer has the uuid {OTHER_UNKNOWN}."},
            ],
        }
    }
    assert customer_groups(app) == {"a@example.com": 1, "b@example.com": 1}
    assert events() == before


def test_batch_of_more_than_1000_is_400_and_assigns_no_one(app, client, admin, group, events):
    uuids = add_customers(app, 1001)
    before = events()

    response = assign(client, admin, group, uuids)

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "customers", "message": "Length must be between 1 and 1000."}
    ]
    assert set(customer_groups(app).values()) == {1}
    assert events() == before


def test_batch_of_1000_is_assigned_at_once(app, client, admin, group, events):
    uuids = add_customers(app, 1000)
    before = len(events())

    started = time.monotonic()
    response = assign(client, admin, group, uuids)
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.json
    assert response.json["data"]["assigned"] == 1000
    assert set(customer_groups(app).values()) == {group["customer_group_id"]}
    assert [name for name, _ in events()[before:]] == ["customer_updated"] * 1000
    assert elapsed < 30, elapsed


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "customers", "Missing data for required field."),
        ({"customers": []}, "customers", "Length must be between 1 and 1000."),
        ({"customers": "all"}, "customers", "Not a valid list."),
        ({"customers": ["someone"]}, "customers.0", "Not a valid uuid."),
        ({"customers": [UNKNOWN, 7]}, "customers.1", "Not a valid string."),
        ({"customers": [UNKNOWN], "all": True}, "all", "Unknown field."),
    ],
    ids=["missing", "empty", "not-a-list", "not-a-uuid", "number", "unknown-field"],
)
def test_batch_with_an_invalid_body_is_400(
    app, client, auth, admin, group, events, body, field, message
):
    auth.create_customer()
    before = events()

    response = client.post(f"{GROUPS}/{group['uuid']}/customers", json=body, headers=admin)

    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"] == [{"field": field, "message": message}]
    assert customer_groups(app) == {"john.smith@example.com": 1}
    assert events() == before


def test_batch_to_an_unknown_group_is_404(app, client, auth, admin, events):
    a = auth.create_customer()
    before = events()

    response = assign(client, admin, {"uuid": UNKNOWN}, [a["uuid"]])

    assert response.status_code == 404
    assert response.json == {"error": {"status": 404, "message": "Customer group not found."}}
    assert customer_groups(app) == {"john.smith@example.com": 1}
    assert events() == before


def test_batch_with_a_customer_token_is_403(app, client, auth, group, events):
    a = auth.create_customer()
    before = events()

    response = assign(client, auth.customer_headers(), group, [a["uuid"]])

    assert response.status_code == 403
    assert customer_groups(app) == {"john.smith@example.com": 1}
    assert events() == before


def test_batch_without_a_token_is_401(app, client, auth, group):
    a = auth.create_customer()

    response = assign(client, {}, group, [a["uuid"]])

    assert response.status_code == 401
    assert customer_groups(app) == {"john.smith@example.com": 1}


def test_a_veto_of_one_customer_assigns_no_one(
    app, client, auth, admin, group, events, register_plugin
):
    a = auth.create_customer(email="a@example.com")
    staff = auth.create_customer(email="staff@example.com")
    before = events()

    class StaffStay:
        @hookimpl
        def customer_before_update(self, customer, data):
            if customer["email"].startswith("staff@"):
                raise Forbidden("Staff stay where they are.")

    register_plugin(StaffStay())
    response = assign(client, admin, group, [a["uuid"], staff["uuid"]])

    assert response.status_code == 403
    assert customer_groups(app) == {"a@example.com": 1, "staff@example.com": 1}
    assert events() == before
