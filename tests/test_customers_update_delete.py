"""PATCH and DELETE /api/customers/{uuid} (docs/api.md, "Customers" and "Password reset")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.helpers import event_names, execute, query, without_links

PASSWORD = "customer-pass-1"
LATER = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
LATER_TEXT = "2031-05-06 07:08:09"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def contract_links(customer_uuid: str) -> list[dict]:
    return [
        {"rel": "customerGrid", "href": "/admin/customers", "action": "GET", "types": ["text/xml"]},
        {
            "rel": "edit",
            "href": f"/admin/customers/edit/{customer_uuid}",
            "action": "GET",
            "types": ["text/xml"],
        },
    ]


def stored(app, customer: dict) -> tuple:
    """The row behind a customer: (email, full_name, status, group_id, password hash)."""
    rows = query(
        app,
        "SELECT email, full_name, status, group_id, password FROM customer WHERE customer_id = :id",
        id=customer["customer_id"],
    )
    return rows[0] if rows else None


def add_group(app, name: str = "Wholesale") -> int:
    execute(app, "INSERT INTO customer_group (group_name) VALUES (:name)", name=name)
    ((group_id,),) = query(
        app, "SELECT customer_group_id FROM customer_group WHERE group_name = :name", name=name
    )
    return group_id


def assert_field_error(response, field: str) -> None:
    """A 400 in the error envelope naming exactly ``field``."""
    assert response.status_code == 400, response.json
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert set(error) == {"status", "message", "errors"}
    assert error["status"] == 400
    assert isinstance(error["message"], str) and error["message"]
    assert [item["field"] for item in error["errors"]] == [field]


def assert_error(response, status: int) -> None:
    """An error envelope with ``status`` and a message, and no field errors."""
    assert response.status_code == status, response.json
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert set(error) == {"status", "message"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth, admin) -> dict:
    return auth.create_customer()


def patch(client, customer_uuid, body, headers):
    return client.patch(f"/api/customers/{customer_uuid}", json=body, headers=headers)


def later(monkeypatch) -> None:
    """Make the service's clock read LATER, so that a moved updated_at shows."""
    monkeypatch.setattr("plugins.customer.service.utcnow", lambda: LATER)


# --- update: each field -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "sent", "shown"),
    [
        ("full_name", "John A. Smith", "John A. Smith"),
        ("full_name", "  John A. Smith ", "John A. Smith"),
        ("email", "john.a.smith@example.com", "john.a.smith@example.com"),
        ("status", 0, 0),
        ("status", "0", 0),
        ("status", "1", 1),
    ],
)
def test_admin_updates_a_field(app, client, admin, customer, monkeypatch, field, sent, shown):
    later(monkeypatch)
    updated_at = customer["updated_at"] if customer[field] == shown else LATER_TEXT

    response = patch(client, customer["uuid"], {field: sent}, admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {**customer, field: shown, "updated_at": updated_at}}


def test_admin_update_is_stored(app, client, admin, customer):
    body = {"email": "new@example.com", "full_name": "New Name", "status": 0}

    response = patch(client, customer["uuid"], body, admin)

    assert response.status_code == 200, response.json
    assert stored(app, customer)[:4] == ("new@example.com", "New Name", 0, 1)


def test_admin_updates_group_id_to_an_existing_group(app, client, admin, customer):
    group_id = add_group(app)

    response = patch(client, customer["uuid"], {"group_id": group_id}, admin)

    assert response.status_code == 200, response.json
    assert response.json["data"]["group_id"] == group_id
    assert stored(app, customer)[3] == group_id


def test_admin_update_answers_the_contract_links(app, client, admin, customer):
    response = patch(client, customer["uuid"], {"full_name": "John A. Smith"}, admin)

    assert response.status_code == 200
    assert response.json["data"]["links"] == contract_links(customer["uuid"])


def test_admin_update_never_shows_the_password(app, client, admin, customer):
    response = patch(client, customer["uuid"], {"password": "another-pass-2"}, admin)

    assert response.status_code == 200
    assert "password" not in response.json["data"]
    text = response.get_data(as_text=True)
    assert "another-pass-2" not in text
    assert "$2b$" not in text


def test_admin_update_accepts_a_uuid_without_dashes_in_upper_case(app, client, admin, customer):
    path_uuid = uuid.UUID(customer["uuid"]).hex.upper()

    response = patch(client, path_uuid, {"full_name": "John A. Smith"}, admin)

    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]


# --- update: no-ops and real changes ----------------------------------------------


def test_empty_update_changes_nothing(app, client, admin, customer, events, monkeypatch):
    later(monkeypatch)
    row = stored(app, customer)

    response = patch(client, customer["uuid"], {}, admin)

    assert response.status_code == 200
    assert response.json == {"data": customer}
    assert stored(app, customer) == row
    assert event_names(events) == ["customer_registered"]


def test_update_with_unchanged_values_moves_nothing(
    app, client, admin, customer, events, monkeypatch
):
    later(monkeypatch)

    response = patch(client, customer["uuid"], {"full_name": "John Smith", "status": 1}, admin)

    assert response.status_code == 200
    assert response.json == {"data": customer}
    assert event_names(events) == ["customer_registered"]


def test_real_change_moves_updated_at_only(app, client, admin, customer, monkeypatch):
    later(monkeypatch)

    response = patch(client, customer["uuid"], {"full_name": "John A. Smith"}, admin)

    assert response.status_code == 200
    data = response.json["data"]
    assert data["updated_at"] == LATER_TEXT
    assert data["created_at"] == customer["created_at"]
    read = client.get(f"/api/customers/{customer['uuid']}", headers=admin)
    assert read.json["data"]["updated_at"] == LATER_TEXT


def test_real_change_emits_customer_updated(app, client, admin, customer, events, monkeypatch):
    later(monkeypatch)

    response = patch(client, customer["uuid"], {"full_name": "John A. Smith"}, admin)

    assert response.status_code == 200
    assert events()[1:] == [("customer_updated", without_links(response.json["data"]))]


def test_password_change_emits_customer_updated_and_password_changed_without_the_password(
    app, client, admin, customer, events, monkeypatch
):
    later(monkeypatch)

    response = patch(client, customer["uuid"], {"password": "another-pass-2"}, admin)

    assert response.status_code == 200
    assert response.json["data"]["updated_at"] == LATER_TEXT
    shown = without_links(response.json["data"])
    assert events()[1:] == [("customer_updated", shown), ("customer_password_changed", shown)]
    assert all("password" not in payload for _, payload in events())


def test_password_change_rehashes_the_password(app, client, admin, auth, customer):
    old_hash = stored(app, customer)[4]

    response = patch(client, customer["uuid"], {"password": "another-pass-2"}, admin)

    assert response.status_code == 200
    new_hash = stored(app, customer)[4]
    assert new_hash.startswith("$2b$") and new_hash != old_hash
    old_login = client.post(
        "/api/customer/tokens", json={"email": customer["email"], "password": PASSWORD}
    )
    assert old_login.status_code == 401
    assert old_login.json == {"error": {"status": 401, "message": "Invalid email or password"}}
    assert set(auth.customer_tokens(customer["email"], "another-pass-2")) == {
        "accessToken",
        "refreshToken",
    }


# --- update: refusals -------------------------------------------------------------


def test_update_of_an_unknown_customer_is_404(app, client, admin, customer, events):
    response = patch(client, UNKNOWN_UUID, {"full_name": "Nobody"}, admin)

    assert_error(response, 404)
    assert stored(app, customer)[1] == "John Smith"
    assert event_names(events) == ["customer_registered"]


def test_update_of_a_malformed_uuid_is_404(app, client, admin, customer):
    response = patch(client, "not-a-uuid", {"full_name": "Nobody"}, admin)

    assert_error(response, 404)


def test_update_to_another_customers_email_is_409(app, client, admin, auth, customer, events):
    other = auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")

    response = patch(client, customer["uuid"], {"email": "JANE.Doe@Example.com"}, admin)

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert stored(app, customer)[0] == "john.smith@example.com"
    assert stored(app, other)[0] == "jane.doe@example.com"
    assert event_names(events) == ["customer_registered", "customer_registered"]


def test_update_to_own_email_in_another_case_is_allowed(app, client, admin, customer):
    response = patch(client, customer["uuid"], {"email": "John.Smith@Example.com"}, admin)

    # The domain is stored in lower case (docs/api.md, "Email addresses").
    assert response.status_code == 200, response.json
    assert response.json["data"]["email"] == "John.Smith@example.com"
    assert stored(app, customer)[0] == "John.Smith@example.com"


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("email", "   "),
        ("email", None),
        ("email", 42),
        ("email", "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com"),
        ("full_name", ""),
        ("full_name", "   "),
        ("full_name", None),
        ("full_name", ["John"]),
        ("password", "short"),
        ("password", ""),
        ("password", "é" * 36 + "a"),
        ("password", None),
        ("password", 12345678),
        ("status", 2),
        ("status", "yes"),
        ("status", True),
        ("status", None),
        ("status", 1.5),
        ("group_id", 999),
        ("group_id", "x"),
        ("group_id", None),
    ],
)
def test_update_with_an_invalid_value_is_400(
    app, client, admin, customer, events, monkeypatch, field, sent
):
    later(monkeypatch)
    row = stored(app, customer)

    response = patch(client, customer["uuid"], {field: sent}, admin)

    assert_field_error(response, field)
    assert stored(app, customer) == row
    assert event_names(events) == ["customer_registered"]


@pytest.mark.parametrize(
    "body",
    [{"nickname": "Johnny"}, {"customer_id": 7}, {"uuid": UNKNOWN_UUID}, {"created_at": "x"}],
)
def test_update_with_an_unknown_field_is_400(app, client, admin, customer, events, body):
    row = stored(app, customer)

    response = patch(client, customer["uuid"], {"full_name": "Changed", **body}, admin)

    assert_field_error(response, next(iter(body)))
    assert stored(app, customer) == row
    assert event_names(events) == ["customer_registered"]


def test_update_with_a_customer_token_is_403(app, client, auth, customer, events):
    headers = auth.customer_headers()

    response = patch(client, customer["uuid"], {"full_name": "Self Made"}, headers)

    assert_error(response, 403)
    assert stored(app, customer)[1] == "John Smith"
    assert event_names(events) == ["customer_registered"]


def test_update_without_a_token_is_401(app, client, customer, events):
    response = client.patch(f"/api/customers/{customer['uuid']}", json={"full_name": "Anon"})

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored(app, customer)[1] == "John Smith"
    assert event_names(events) == ["customer_registered"]


# --- delete -----------------------------------------------------------------------


def delete(client, customer_uuid, headers):
    return client.delete(f"/api/customers/{customer_uuid}", headers=headers)


def add_address_and_reset_token(app, customer: dict) -> None:
    execute(
        app,
        "INSERT INTO customer_address (customer_id, full_name, country)"
        " VALUES (:id, 'John Smith', 'US')",
        id=customer["customer_id"],
    )
    execute(
        app,
        "INSERT INTO reset_password_token (customer_id, token) VALUES (:id, :token)",
        id=customer["customer_id"],
        token=f"sha256-of-a-token-{customer['customer_id']}",
    )


def test_delete_answers_the_customer_as_it_was_without_links(app, client, admin, customer):
    response = delete(client, customer["uuid"], admin)

    assert response.status_code == 200
    assert response.json == {"data": without_links(customer)}


def test_deleted_customer_is_gone(app, client, admin, customer):
    delete(client, customer["uuid"], admin)

    response = client.get(f"/api/customers/{customer['uuid']}", headers=admin)

    assert_error(response, 404)
    assert stored(app, customer) is None


def test_deleting_twice_is_404(app, client, admin, customer, events):
    assert delete(client, customer["uuid"], admin).status_code == 200

    response = delete(client, customer["uuid"], admin)

    assert_error(response, 404)
    assert event_names(events) == ["customer_registered", "customer_deleted"]


def test_delete_removes_its_addresses_and_reset_tokens(app, client, admin, auth, customer):
    other = auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")
    add_address_and_reset_token(app, customer)
    add_address_and_reset_token(app, other)

    response = delete(client, customer["uuid"], admin)

    assert response.status_code == 200
    assert query(app, "SELECT customer_id FROM customer_address") == [(other["customer_id"],)]
    assert query(app, "SELECT customer_id FROM reset_password_token") == [(other["customer_id"],)]


def test_delete_emits_customer_deleted(app, client, admin, customer, events):
    response = delete(client, customer["uuid"], admin)

    assert response.status_code == 200
    assert events()[1:] == [("customer_deleted", without_links(customer))]
    assert "password" not in events()[1][1]


def test_delete_of_an_unknown_customer_is_404(app, client, admin, customer, events):
    response = delete(client, UNKNOWN_UUID, admin)

    assert_error(response, 404)
    assert stored(app, customer) is not None
    assert event_names(events) == ["customer_registered"]


def test_delete_with_a_customer_token_is_403(app, client, auth, customer, events):
    headers = auth.customer_headers()

    response = delete(client, customer["uuid"], headers)

    assert_error(response, 403)
    assert stored(app, customer) is not None
    assert event_names(events) == ["customer_registered"]


def test_delete_without_a_token_is_401(app, client, customer, events):
    response = client.delete(f"/api/customers/{customer['uuid']}")

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored(app, customer) is not None
    assert event_names(events) == ["customer_registered"]


def test_deleted_customers_token_stops_working(app, client, admin, auth, customer):
    headers = auth.customer_headers()
    delete(client, customer["uuid"], admin)

    response = client.get("/api/customers/me", headers=headers)

    assert_error(response, 401)
