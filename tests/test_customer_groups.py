"""Customer groups through the API (docs/api.md, "Customer groups"): list,
create, rename and delete, the default group protected, names unique in any
letter case, deletion refused while customers belong to the group unless they
move in the same request; admins only; events and hooks."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db, write_connection
from app.errors import Forbidden
from plugins.customer.models import Customer
from tests.helpers import event_names

hookimpl = pluggy.HookimplMarker("evershop")

GROUPS = "/api/customer-groups"
NOT_FOUND = {"error": {"status": 404, "message": "Customer group not found."}}
NAME_TAKEN = {
    "error": {"status": 409, "message": "A customer group with this name already exists."}
}
DEFAULT_PROTECTED = {
    "error": {"status": 409, "message": "The default customer group cannot be deleted."}
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
LATER = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
NO_TOKEN = {
    "error": {"status": 401, "message": "Authentication is required: send a valid Bearer token."}
}
WRONG_TOKEN = {
    "error": {"status": 403, "message": "This token does not grant access to this resource."}
}


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


def create(client, admin, name: str) -> dict:
    response = client.post(GROUPS, json={"group_name": name}, headers=admin)
    assert response.status_code == 201, response.json
    return response.json["data"]


def group_rows(app) -> list[str]:
    """The name of every group, by id."""
    with app.app_context():
        rows = db.session.scalars(
            sa.text("SELECT group_name FROM customer_group ORDER BY customer_group_id")
        ).all()
        db.session.remove()
    return list(rows)


def customer_groups(app) -> dict[str, int | None]:
    """email -> group_id of every customer."""
    with app.app_context():
        rows = db.session.execute(sa.select(Customer.email, Customer.group_id)).all()
        db.session.remove()
    return dict(rows)


def default_group(client, admin) -> dict:
    response = client.get(GROUPS, headers=admin)
    (group,) = [g for g in response.json["data"]["items"] if g["customer_group_id"] == 1]
    return group


def add_customers(app, count: int, group_id: int) -> None:
    """``count`` customers in a group, written directly (quicker than the API)."""
    with app.app_context():
        db.session.add_all(
            Customer(email=f"bulk{n}@example.com", password="x", full_name="B", group_id=group_id)
            for n in range(count)
        )
        db.session.commit()
        db.session.remove()


# --- create --------------------------------------------------------------------------------


def test_admin_creates_a_group(app, client, admin, events):
    response = client.post(GROUPS, json={"group_name": "Wholesale"}, headers=admin)

    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert set(data) == {
        "customer_group_id",
        "uuid",
        "group_name",
        "created_at",
        "updated_at",
        "customer_count",
    }
    assert (data["group_name"], data["customer_count"]) == ("Wholesale", 0)
    assert data["customer_group_id"] > 1
    assert TIMESTAMP.match(data["created_at"]) and data["updated_at"] == data["created_at"]
    assert response.headers["Location"] == f"/api/customer-groups/{data['uuid']}"
    assert group_rows(app) == ["Default", "Wholesale"]
    assert events() == [("customer_group_created", data)]


def test_create_trims_the_name(app, client, admin):
    data = create(client, admin, "  Wholesale \t")

    assert data["group_name"] == "Wholesale"
    assert group_rows(app) == ["Default", "Wholesale"]


@pytest.mark.parametrize("name", ["Wholesale", "WHOLESALE", " wholesale "])
def test_create_with_a_name_taken_in_any_letter_case_is_409(app, client, admin, events, name):
    create(client, admin, "Wholesale")

    response = client.post(GROUPS, json={"group_name": name}, headers=admin)

    assert response.status_code == 409
    assert response.json == NAME_TAKEN
    assert group_rows(app) == ["Default", "Wholesale"]
    assert event_names(events) == ["customer_group_created"]


def test_create_named_like_the_default_group_is_409(app, client, admin, events):
    response = client.post(GROUPS, json={"group_name": "default"}, headers=admin)

    assert response.json == NAME_TAKEN
    assert group_rows(app) == ["Default"]
    assert events() == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "group_name", "Missing data for required field."),
        ({"group_name": ""}, "group_name", "Length must be between 1 and 255."),
        ({"group_name": "   "}, "group_name", "Length must be between 1 and 255."),
        ({"group_name": "x" * 256}, "group_name", "Length must be between 1 and 255."),
        ({"group_name": None}, "group_name", "Field may not be null."),
        ({"group_name": 7}, "group_name", "Not a valid string."),
        ({"group_name": "A", "colour": "red"}, "colour", "Unknown field."),
    ],
    ids=["missing", "empty", "blank", "too-long", "null", "number", "unknown-field"],
)
def test_create_with_an_invalid_body_is_400(app, client, admin, events, body, field, message):
    response = client.post(GROUPS, json=body, headers=admin)

    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"] == [{"field": field, "message": message}]
    assert group_rows(app) == ["Default"]
    assert events() == []


def test_create_with_a_customer_token_is_403(app, client, auth, events):
    auth.create_customer()
    response = client.post(
        GROUPS, json={"group_name": "Wholesale"}, headers=auth.customer_headers()
    )

    assert response.status_code == 403
    assert response.json == WRONG_TOKEN
    assert group_rows(app) == ["Default"]
    assert event_names(events) == ["customer_registered"]


def test_create_without_a_token_is_401(app, client, events):
    response = client.post(GROUPS, json={"group_name": "Wholesale"})

    assert response.status_code == 401
    assert response.json == NO_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert group_rows(app) == ["Default"]


# --- list and read ----------------------------------------------------------------------


def test_list_shows_every_group_with_its_customer_count(client, auth, admin):
    wholesale = create(client, admin, "Wholesale")
    create(client, admin, "Staff")
    auth.create_customer(email="a@example.com")
    auth.create_customer(email="b@example.com", group_id=wholesale["customer_group_id"])
    auth.create_customer(email="c@example.com", group_id=wholesale["customer_group_id"])

    response = client.get(GROUPS, headers=admin)

    assert response.status_code == 200, response.json
    page = response.json["data"]
    assert [(g["group_name"], g["customer_count"]) for g in page["items"]] == [
        ("Default", 1),
        ("Wholesale", 2),
        ("Staff", 0),
    ]
    assert (page["total"], page["currentPage"], page["limit"]) == (3, 1, 20)


def test_list_filters_by_name_in_any_letter_case(client, admin):
    create(client, admin, "Wholesale")
    create(client, admin, "Retail SALE")
    create(client, admin, "Staff")

    response = client.get(f"{GROUPS}?name=sale", headers=admin)

    assert [g["group_name"] for g in response.json["data"]["items"]] == [
        "Wholesale",
        "Retail SALE",
    ]
    assert response.json["data"]["total"] == 2


def test_list_orders_by_name_and_pages(client, admin):
    for name in ("Bravo", "Alpha", "Charlie"):
        create(client, admin, name)

    first = client.get(f"{GROUPS}?ob=name&od=desc&limit=2", headers=admin).json["data"]
    second = client.get(f"{GROUPS}?ob=name&od=desc&limit=2&page=2", headers=admin).json["data"]

    assert [g["group_name"] for g in first["items"]] == ["Default", "Charlie"]
    assert [g["group_name"] for g in second["items"]] == ["Bravo", "Alpha"]
    assert (second["total"], second["currentPage"], second["limit"]) == (4, 2, 2)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=101", "limit"),
        ("page=0", "page"),
        ("ob=uuid", "ob"),
        ("od=up", "od"),
        ("colour=red", "colour"),
    ],
)
def test_list_with_a_bad_parameter_is_400(client, admin, query, field):
    response = client.get(f"{GROUPS}?{query}", headers=admin)

    assert response.status_code == 400, response.json
    assert [error["field"] for error in response.json["error"]["errors"]] == [field]


def test_list_with_a_customer_token_is_403(client, auth):
    auth.create_customer()

    response = client.get(GROUPS, headers=auth.customer_headers())

    assert response.status_code == 403
    assert response.json == WRONG_TOKEN


def test_list_without_a_token_is_401(client):
    response = client.get(GROUPS)

    assert response.status_code == 401
    assert response.json == NO_TOKEN


def test_read_shows_one_group(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])

    response = client.get(f"{GROUPS}/{group['uuid'].replace('-', '').upper()}", headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {**group, "customer_count": 1}}


def test_read_an_unknown_group_is_404(client, admin):
    response = client.get(f"{GROUPS}/00000000-0000-4000-8000-000000000000", headers=admin)

    assert response.status_code == 404
    assert response.json == NOT_FOUND


def test_read_with_a_malformed_uuid_is_404(client, admin):
    response = client.get(f"{GROUPS}/not-a-uuid", headers=admin)

    assert response.status_code == 404


def test_read_with_a_customer_token_is_403(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])

    response = client.get(f"{GROUPS}/{group['uuid']}", headers=auth.customer_headers())

    assert response.status_code == 403
    assert response.json == WRONG_TOKEN


# --- rename ------------------------------------------------------------------------------


def test_admin_renames_a_group(app, client, admin, events, monkeypatch):
    group = create(client, admin, "Wholesale")
    monkeypatch.setattr("plugins.customer.groups.utcnow", lambda: LATER)

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "Trade"}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {**group, "group_name": "Trade", "updated_at": "2031-01-02 03:04:05"}
    }
    assert group_rows(app) == ["Default", "Trade"]
    assert events()[-1] == ("customer_group_updated", response.json["data"])


def test_rename_to_another_letter_case_of_its_own_name_is_allowed(app, client, admin):
    group = create(client, admin, "wholesale")

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "Wholesale"}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert group_rows(app) == ["Default", "Wholesale"]


def test_rename_to_the_same_name_writes_nothing(app, client, admin, events):
    group = create(client, admin, "Wholesale")

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": " Wholesale "}, headers=admin
    )

    assert response.status_code == 200
    assert response.json == {"data": group}
    assert event_names(events) == ["customer_group_created"]


def test_rename_with_an_empty_body_writes_nothing(client, admin, events):
    group = create(client, admin, "Wholesale")

    response = client.patch(f"{GROUPS}/{group['uuid']}", json={}, headers=admin)

    assert response.json == {"data": group}
    assert event_names(events) == ["customer_group_created"]


def test_rename_to_a_taken_name_is_409(app, client, admin, events):
    group = create(client, admin, "Wholesale")
    create(client, admin, "Staff")

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "STAFF"}, headers=admin
    )

    assert response.status_code == 409
    assert response.json == NAME_TAKEN
    assert group_rows(app) == ["Default", "Wholesale", "Staff"]
    assert event_names(events) == ["customer_group_created", "customer_group_created"]


def test_the_default_group_can_be_renamed(app, client, admin):
    default = default_group(client, admin)

    response = client.patch(
        f"{GROUPS}/{default['uuid']}", json={"group_name": "Retail"}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["group_name"] == "Retail"
    assert group_rows(app) == ["Retail"]


def test_rename_an_unknown_group_is_404(client, admin, events):
    response = client.patch(
        f"{GROUPS}/00000000-0000-4000-8000-000000000000", json={"group_name": "X"}, headers=admin
    )

    assert response.status_code == 404
    assert response.json == NOT_FOUND
    assert events() == []


def test_rename_with_an_invalid_name_is_400(app, client, admin):
    group = create(client, admin, "Wholesale")

    response = client.patch(f"{GROUPS}/{group['uuid']}", json={"group_name": ""}, headers=admin)

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "group_name", "message": "Length must be between 1 and 255."}
    ]
    assert group_rows(app) == ["Default", "Wholesale"]


def test_rename_with_a_customer_token_is_403(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer()

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "Mine"}, headers=auth.customer_headers()
    )

    assert response.status_code == 403
    assert group_rows(app) == ["Default", "Wholesale"]


# --- delete ------------------------------------------------------------------------------


def test_admin_deletes_an_empty_group(app, client, admin, events):
    group = create(client, admin, "Wholesale")

    response = client.delete(f"{GROUPS}/{group['uuid']}", headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {**group, "moved_to": None}}
    assert group_rows(app) == ["Default"]
    assert events()[-1] == ("customer_group_deleted", response.json["data"])


def test_delete_of_a_group_with_customers_is_409(app, client, auth, admin, events):
    group = create(client, admin, "Wholesale")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="b@example.com", group_id=group["customer_group_id"])

    response = client.delete(f"{GROUPS}/{group['uuid']}", headers=admin)

    assert response.status_code == 409
    assert response.json == {
        "error": {
            "status": 409,
            "message": "The group has 2 customers: name the group they move to (move_to),"
            " or move them first.",
        }
    }
    assert group_rows(app) == ["Default", "Wholesale"]
    assert customer_groups(app) == {
        "a@example.com": group["customer_group_id"],
        "b@example.com": group["customer_group_id"],
    }
    assert "customer_group_deleted" not in event_names(events)


@pytest.mark.parametrize("where", ["body", "query"])
def test_delete_moves_its_customers_to_move_to(app, client, auth, admin, events, where):
    group = create(client, admin, "Wholesale")
    target = create(client, admin, "Trade")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="b@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="c@example.com")
    before = len(events())

    if where == "body":
        response = client.delete(
            f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
        )
    else:
        response = client.delete(
            f"{GROUPS}/{group['uuid']}?move_to={target['uuid']}", headers=admin
        )

    assert response.status_code == 200, response.json
    assert response.json == {"data": {**group, "customer_count": 2, "moved_to": target["uuid"]}}
    assert group_rows(app) == ["Default", "Trade"]
    assert customer_groups(app) == {
        "a@example.com": target["customer_group_id"],
        "b@example.com": target["customer_group_id"],
        "c@example.com": 1,
    }
    moved = events()[before:]
    assert [name for name, _ in moved] == [
        "customer_updated",
        "customer_updated",
        "customer_group_deleted",
    ]
    assert [(p["email"], p["group_id"]) for _, p in moved[:2]] == [
        ("a@example.com", target["customer_group_id"]),
        ("b@example.com", target["customer_group_id"]),
    ]


def test_delete_may_move_customers_to_the_default_group(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])
    default = default_group(client, admin)

    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": default["uuid"]}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert customer_groups(app) == {"john.smith@example.com": 1}


def test_delete_with_an_unknown_move_to_is_400(app, client, auth, admin, events):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])
    before = events()

    response = client.delete(
        f"{GROUPS}/{group['uuid']}",
        json={"move_to": "00000000-0000-4000-8000-000000000000"},
        headers=admin,
    )

    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Invalid move_to: No customer group has this uuid.",
            "errors": [{"field": "move_to", "message": "No customer group has this uuid."}],
        }
    }
    assert group_rows(app) == ["Default", "Wholesale"]
    assert customer_groups(app) == {"john.smith@example.com": group["customer_group_id"]}
    assert events() == before


def test_delete_moving_customers_to_the_group_itself_is_400(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])

    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": group["uuid"]}, headers=admin
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "move_to", "message": "Must name another group than the one deleted."}
    ]
    assert group_rows(app) == ["Default", "Wholesale"]


def test_delete_with_a_malformed_move_to_is_400(app, client, admin):
    group = create(client, admin, "Wholesale")

    response = client.delete(f"{GROUPS}/{group['uuid']}?move_to=trade", headers=admin)

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "move_to", "message": "Not a valid uuid."}
    ]
    assert group_rows(app) == ["Default", "Wholesale"]


def test_delete_with_different_move_to_in_body_and_query_is_400(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    one, other = create(client, admin, "One"), create(client, admin, "Other")
    auth.create_customer(group_id=group["customer_group_id"])

    response = client.delete(
        f"{GROUPS}/{group['uuid']}?move_to={one['uuid']}",
        json={"move_to": other["uuid"]},
        headers=admin,
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "move_to", "message": "Sent in the body and the query with different values."}
    ]
    assert customer_groups(app) == {"john.smith@example.com": group["customer_group_id"]}


def test_the_default_group_cannot_be_deleted(app, client, auth, admin, events):
    target = create(client, admin, "Wholesale")
    auth.create_customer()
    default = default_group(client, admin)
    before = events()

    response = client.delete(
        f"{GROUPS}/{default['uuid']}", json={"move_to": target["uuid"]}, headers=admin
    )

    assert response.status_code == 409
    assert response.json == DEFAULT_PROTECTED
    assert group_rows(app) == ["Default", "Wholesale"]
    assert customer_groups(app) == {"john.smith@example.com": 1}
    assert events() == before


def test_delete_moving_more_than_1000_customers_is_409(app, client, admin, events):
    group = create(client, admin, "Wholesale")
    target = create(client, admin, "Trade")
    add_customers(app, 1001, group["customer_group_id"])

    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
    )

    assert response.status_code == 409
    assert response.json == {
        "error": {
            "status": 409,
            "message": "The group has 1001 customers, more than the 1,000 one request may move:"
            " move them in batches first, with"
            f" POST /api/customer-groups/{target['uuid']}/customers.",
        }
    }
    assert set(customer_groups(app).values()) == {group["customer_group_id"]}
    assert group_rows(app) == ["Default", "Wholesale", "Trade"]


def test_delete_an_unknown_group_is_404(client, admin, events):
    response = client.delete(f"{GROUPS}/00000000-0000-4000-8000-000000000000", headers=admin)

    assert response.status_code == 404
    assert response.json == NOT_FOUND
    assert events() == []


def test_delete_with_a_customer_token_is_403(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer()

    response = client.delete(f"{GROUPS}/{group['uuid']}", headers=auth.customer_headers())

    assert response.status_code == 403
    assert response.json == WRONG_TOKEN
    assert group_rows(app) == ["Default", "Wholesale"]


def test_delete_without_a_token_is_401(app, client, admin):
    group = create(client, admin, "Wholesale")

    response = client.delete(f"{GROUPS}/{group['uuid']}")

    assert response.status_code == 401
    assert group_rows(app) == ["Default", "Wholesale"]


def test_a_veto_of_one_customer_move_keeps_the_group_and_every_customer(
    app, client, auth, admin, events, register_plugin
):
    group = create(client, admin, "Wholesale")
    target = create(client, admin, "Trade")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="staff@example.com", group_id=group["customer_group_id"])
    before = events()

    class StaffStay:
        @hookimpl
        def customer_before_update(self, customer, data):
            if customer["email"].startswith("staff@") and "group_id" in data:
                raise Forbidden("Staff stay where they are.")

    register_plugin(StaffStay())
    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
    )

    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": "Staff stay where they are."}}
    assert group_rows(app) == ["Default", "Wholesale", "Trade"]
    assert customer_groups(app) == {
        "a@example.com": group["customer_group_id"],
        "staff@example.com": group["customer_group_id"],
    }
    assert events() == before


# --- a customer's group_id ---------------------------------------------------------------


def test_a_customer_is_assigned_to_a_group_made_through_the_api(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    customer = auth.create_customer()

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"group_id": group["customer_group_id"]},
        headers=admin,
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["group_id"] == group["customer_group_id"]
    assert customer_groups(app) == {"john.smith@example.com": group["customer_group_id"]}


def test_a_customer_cannot_be_assigned_to_a_deleted_group(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    client.delete(f"{GROUPS}/{group['uuid']}", headers=admin)
    customer = auth.create_customer()

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"group_id": group["customer_group_id"]},
        headers=admin,
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "group_id", "message": "No customer group has this id."}
    ]
    assert customer_groups(app) == {"john.smith@example.com": 1}


def test_a_customer_assigned_while_its_group_is_deleted_gets_a_400(app, client, auth, admin):
    group = create(client, admin, "Wholesale")
    customer = auth.create_customer()
    answers = []

    def assign():
        answers.append(
            client.patch(
                f"/api/customers/{customer['uuid']}",
                json={"group_id": group["customer_group_id"]},
                headers=admin,
            )
        )

    # Given a deletion of the group in progress
    with app.app_context(), write_connection() as conn:
        conn.execute(
            sa.text("DELETE FROM customer_group WHERE customer_group_id = :id"),
            {"id": group["customer_group_id"]},
        )
        # When a customer is assigned to it meanwhile
        thread = threading.Thread(target=assign)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # it waits for the deletion
    thread.join(15)

    # Then, once the deletion committed, the assignment is a clean 400
    (response,) = answers
    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"] == [
        {"field": "group_id", "message": "No customer group has this id."}
    ]
    assert customer_groups(app) == {"john.smith@example.com": 1}


def test_two_deletions_moving_customers_to_each_other_never_both_succeed(app, client, auth, admin):
    one, two = create(client, admin, "One"), create(client, admin, "Two")
    auth.create_customer(email="a@example.com", group_id=one["customer_group_id"])
    auth.create_customer(email="b@example.com", group_id=two["customer_group_id"])
    barrier = threading.Barrier(2)
    answers = {}

    def delete(group, target):
        barrier.wait()
        answers[group["group_name"]] = client.delete(
            f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
        )

    threads = [
        threading.Thread(target=delete, args=(one, two)),
        threading.Thread(target=delete, args=(two, one)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    statuses = sorted(response.status_code for response in answers.values())
    assert statuses == [200, 400], {k: r.json for k, r in answers.items()}
    (kept,) = [name for name, response in answers.items() if response.status_code == 400]
    kept_id = (one if kept == "One" else two)["customer_group_id"]
    assert group_rows(app) == ["Default", kept]
    assert customer_groups(app) == {"a@example.com": kept_id, "b@example.com": kept_id}


def test_customers_list_filters_by_group_uuid(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="b@example.com")

    response = client.get(f"/api/customers?group={group['uuid']}", headers=admin)

    assert response.status_code == 200, response.json
    assert [c["email"] for c in response.json["data"]["items"]] == ["a@example.com"]
    assert response.json["data"]["total"] == 1


def test_customers_list_by_an_unknown_group_uuid_is_empty(client, auth, admin):
    auth.create_customer()

    response = client.get(
        "/api/customers?group=00000000-0000-4000-8000-000000000000", headers=admin
    )

    assert response.status_code == 200, response.json
    assert (response.json["data"]["items"], response.json["data"]["total"]) == ([], 0)


def test_customers_list_by_a_malformed_group_uuid_is_400(client, admin):
    response = client.get("/api/customers?group=wholesale", headers=admin)

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [{"field": "group", "message": "Not a valid uuid."}]


# --- hooks -------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def customer_group_after_create(self, group, context):
        self.calls.append(("after_create", group, context.actor_type))

    @hookimpl
    def customer_group_after_update(self, group, changes, context):
        self.calls.append(("after_update", group, changes))

    @hookimpl
    def customer_group_after_delete(self, group, move_to, context):
        self.calls.append(("after_delete", group, move_to))


def test_customer_group_after_create_receives_the_new_group(client, admin, register_plugin):
    recorder = register_plugin(Recorder())

    group = create(client, admin, "Wholesale")

    assert recorder.calls == [("after_create", group, "admin")]


def test_customer_group_before_create_may_refuse(app, client, admin, events, register_plugin):
    class NoStaff:
        @hookimpl
        def customer_group_before_create(self, data, context):
            if data["group_name"].lower() == "staff":
                raise Forbidden("Staff is not a customer group.")

    register_plugin(NoStaff())
    response = client.post(GROUPS, json={"group_name": "Staff"}, headers=admin)

    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": "Staff is not a customer group."}}
    assert group_rows(app) == ["Default"]
    assert events() == []


def test_customer_group_before_create_may_change_the_name(app, client, admin, register_plugin):
    class Titled:
        @hookimpl
        def customer_group_before_create(self, data):
            data["group_name"] = data["group_name"].title()

    register_plugin(Titled())
    group = create(client, admin, "wholesale buyers")

    assert group["group_name"] == "Wholesale Buyers"
    assert group_rows(app) == ["Default", "Wholesale Buyers"]


def test_customer_group_before_update_may_refuse(app, client, admin, events, register_plugin):
    group = create(client, admin, "Wholesale")

    class Frozen:
        @hookimpl
        def customer_group_before_update(self, group, data, context):
            raise Forbidden(f"{group['group_name']} keeps its name.")

    register_plugin(Frozen())
    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "Trade"}, headers=admin
    )

    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": "Wholesale keeps its name."}}
    assert group_rows(app) == ["Default", "Wholesale"]
    assert event_names(events) == ["customer_group_created"]


def test_customer_group_after_update_receives_the_group_and_changes(client, admin, register_plugin):
    group = create(client, admin, "Wholesale")
    recorder = register_plugin(Recorder())

    response = client.patch(
        f"{GROUPS}/{group['uuid']}", json={"group_name": "Trade"}, headers=admin
    )

    assert recorder.calls == [("after_update", response.json["data"], ["group_name"])]


def test_customer_group_before_delete_may_refuse_before_anyone_moves(
    app, client, auth, admin, events, register_plugin
):
    group = create(client, admin, "Wholesale")
    target = create(client, admin, "Trade")
    auth.create_customer(group_id=group["customer_group_id"])
    seen = []

    class Kept:
        @hookimpl
        def customer_group_before_delete(self, group, move_to, context):
            seen.append((group["customer_count"], move_to["uuid"]))
            raise Forbidden("Pricing rules use this group.")

    register_plugin(Kept())
    before = events()
    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
    )

    assert response.status_code == 403
    assert seen == [(1, target["uuid"])]
    assert group_rows(app) == ["Default", "Wholesale", "Trade"]
    assert customer_groups(app) == {"john.smith@example.com": group["customer_group_id"]}
    assert events() == before


def test_customer_group_after_delete_receives_the_group_and_where_customers_went(
    client, auth, admin, register_plugin
):
    group = create(client, admin, "Wholesale")
    target = create(client, admin, "Trade")
    auth.create_customer(group_id=group["customer_group_id"])
    recorder = register_plugin(Recorder())

    response = client.delete(
        f"{GROUPS}/{group['uuid']}", json={"move_to": target["uuid"]}, headers=admin
    )

    assert recorder.calls == [
        ("after_delete", response.json["data"], {**target, "customer_count": 1})
    ]
