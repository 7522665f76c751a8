"""Reading customers: one, the caller's own (``me``), and the admin list
(docs/api.md, "Customers")."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Auth
from tests.helpers import event_names, execute, query, without_links

PASSWORD = "customer-pass-1"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
CUSTOMER_FIELDS = {
    "customer_id",
    "uuid",
    "status",
    "group_id",
    "email",
    "full_name",
    "created_at",
    "updated_at",
    "meta_data",
    # the verification plugin's fields (docs/api.md, "Email verification")
    "email_verified",
    "pending_email",
}


def stored(app, customer: dict) -> tuple:
    """(email, full_name, status, group_id, password hash) of a customer's row."""
    (row,) = query(
        app,
        "SELECT email, full_name, status, group_id, password FROM customer WHERE customer_id = :id",
        id=customer["customer_id"],
    )
    return tuple(row)


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
    return without_links(auth.create_customer())


@pytest.fixture
def other(auth, admin) -> dict:
    return without_links(auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe"))


# --- GET /api/customers/{uuid} ----------------------------------------------------


def test_admin_reads_a_customer_with_its_addresses_list(app, client, admin, customer):
    response = client.get(f"/api/customers/{customer['uuid']}", headers=admin)

    assert response.status_code == 200
    assert response.json == {"data": {**customer, "addresses": []}}


def test_read_customer_never_shows_the_password(app, client, admin, customer):
    response = client.get(f"/api/customers/{customer['uuid']}", headers=admin)

    assert response.status_code == 200
    assert "password" not in response.json["data"]
    assert "$2b$" not in response.get_data(as_text=True)


def test_customer_reads_itself_by_uuid(app, client, auth, customer):
    headers = auth.customer_headers()

    response = client.get(f"/api/customers/{customer['uuid']}", headers=headers)

    assert response.status_code == 200
    assert response.json == {"data": {**customer, "addresses": []}}


def test_customer_cannot_read_another_customer(app, client, auth, customer, other):
    headers = auth.customer_headers()

    response = client.get(f"/api/customers/{other['uuid']}", headers=headers)

    assert_error(response, 403)


def test_read_customer_without_a_token_is_401(app, client, customer):
    response = client.get(f"/api/customers/{customer['uuid']}")

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_read_unknown_customer_is_404(app, client, admin, customer):
    response = client.get(f"/api/customers/{UNKNOWN_UUID}", headers=admin)

    assert_error(response, 404)


@pytest.mark.parametrize("path_uuid", ["not-a-uuid", "12345", "g" * 32])
def test_read_malformed_uuid_is_404(app, client, admin, customer, path_uuid):
    response = client.get(f"/api/customers/{path_uuid}", headers=admin)

    assert_error(response, 404)


def test_read_customer_accepts_32_hex_digits_in_any_case(app, client, admin, customer):
    path_uuid = uuid.UUID(customer["uuid"]).hex.upper()

    response = client.get(f"/api/customers/{path_uuid}", headers=admin)

    assert response.status_code == 200
    assert response.json == {"data": {**customer, "addresses": []}}


# --- GET /api/customers/me --------------------------------------------------------


def test_customer_reads_me(app, client, auth, customer, other):
    headers = auth.customer_headers()

    response = client.get("/api/customers/me", headers=headers)

    assert response.status_code == 200
    assert response.json == {"data": {**customer, "addresses": []}}


def test_me_with_an_admin_token_is_403(app, client, admin):
    response = client.get("/api/customers/me", headers=admin)

    assert_error(response, 403)


def test_me_without_a_token_is_401(app, client):
    response = client.get("/api/customers/me")

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- PATCH /api/customers/me ------------------------------------------------------


def test_customer_edits_its_full_name(app, client, auth, customer, events):
    headers = auth.customer_headers()

    response = client.patch("/api/customers/me", json={"full_name": "Johnny"}, headers=headers)

    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["full_name"] == "Johnny"
    assert data["links"][1]["href"] == f"/admin/customers/edit/{customer['uuid']}"
    assert stored(app, customer)[:4] == ("john.smith@example.com", "Johnny", 1, 1)
    assert event_names(events) == ["customer_registered", "customer_updated"]


def test_customer_edits_its_email_at_once_when_verification_is_off(make_app):
    # (With verification on, the change waits for the new address: test_verification.py.)
    app = make_app(CUSTOMER_EMAIL_VERIFICATION="off")
    client = app.test_client()
    auth = Auth(app, client)
    customer = auth.create_customer()
    headers = auth.customer_headers()

    response = client.patch(
        "/api/customers/me", json={"email": "john.new@example.com"}, headers=headers
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["email"] == "john.new@example.com"
    assert stored(app, customer)[0] == "john.new@example.com"
    assert auth.customer_tokens("john.new@example.com", PASSWORD)["accessToken"]


def test_customer_cannot_take_a_used_email(app, client, auth, customer, other, events):
    headers = auth.customer_headers()

    response = client.patch(
        "/api/customers/me", json={"email": "Jane.Doe@example.com"}, headers=headers
    )

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert stored(app, customer)[0] == "john.smith@example.com"
    assert event_names(events) == ["customer_registered", "customer_registered"]


@pytest.mark.parametrize(
    "body",
    [
        {"password": "another-pass-2"},
        {"status": 0},
        {"group_id": 1},
        {"full_name": "Johnny", "status": 1},
        {"password": None},
    ],
)
def test_customer_cannot_change_password_status_or_group_through_me(
    app, client, auth, customer, events, body
):
    headers = auth.customer_headers()
    row = stored(app, customer)

    response = client.patch("/api/customers/me", json=body, headers=headers)

    assert_error(response, 403)
    assert stored(app, customer) == row
    assert event_names(events) == ["customer_registered"]


def test_me_update_with_an_unknown_field_is_400(app, client, auth, customer, events):
    headers = auth.customer_headers()
    row = stored(app, customer)

    response = client.patch(
        "/api/customers/me", json={"full_name": "Johnny", "nickname": "J"}, headers=headers
    )

    assert_field_error(response, "nickname")
    assert stored(app, customer) == row
    assert event_names(events) == ["customer_registered"]


def test_me_update_with_an_invalid_email_is_400(app, client, auth, customer, events):
    headers = auth.customer_headers()

    response = client.patch("/api/customers/me", json={"email": "nope"}, headers=headers)

    assert_field_error(response, "email")
    assert stored(app, customer)[0] == "john.smith@example.com"
    assert event_names(events) == ["customer_registered"]


def test_me_update_with_an_admin_token_is_403(app, client, admin, customer, events):
    response = client.patch("/api/customers/me", json={"full_name": "X"}, headers=admin)

    assert_error(response, 403)
    assert event_names(events) == ["customer_registered"]


def test_me_update_without_a_token_is_401(app, client, customer, events):
    response = client.patch("/api/customers/me", json={"full_name": "X"})

    assert_error(response, 401)
    assert event_names(events) == ["customer_registered"]


# --- GET /api/customers -----------------------------------------------------------


def make_customers(auth, *people) -> list[dict]:
    """Create customers from (email, full_name[, extra fields]) tuples, in order."""
    made = []
    for email, full_name, *extra in people:
        made.append(
            without_links(
                auth.create_customer(
                    email=email, full_name=full_name, **(extra[0] if extra else {})
                )
            )
        )
    return made


def listing(client, admin, **params):
    response = client.get("/api/customers", query_string=params, headers=admin)
    assert response.status_code == 200, response.json
    return response.json["data"]


def emails(page: dict) -> list[str]:
    return [item["email"] for item in page["items"]]


def test_list_has_the_contract_shape(app, client, admin, auth):
    (made,) = make_customers(auth, ("ann@example.com", "Ann"))

    response = client.get("/api/customers", headers=admin)

    assert response.status_code == 200
    assert response.json == {
        "data": {
            "items": [made],
            "total": 1,
            "totalExact": True,
            "hasMore": False,
            "currentPage": 1,
            "limit": 20,
        }
    }
    assert set(response.json["data"]["items"][0]) == CUSTOMER_FIELDS


def test_list_of_no_customers_is_empty(app, client, admin):
    assert listing(client, admin) == {
        "items": [],
        "total": 0,
        "totalExact": True,
        "hasMore": False,
        "currentPage": 1,
        "limit": 20,
    }


def test_list_defaults_to_20_per_page(app, client, admin, auth):
    make_customers(auth, *[(f"c{n:02}@example.com", f"Customer {n:02}") for n in range(21)])

    page = listing(client, admin)

    assert (len(page["items"]), page["total"], page["currentPage"], page["limit"]) == (
        20,
        21,
        1,
        20,
    )


def test_list_pages_with_page_and_limit(app, client, admin, auth):
    make_customers(auth, *[(f"c{n}@example.com", f"Customer {n}") for n in range(5)])

    page = listing(client, admin, page=2, limit=2, ob="email", od="asc")

    assert emails(page) == ["c2@example.com", "c3@example.com"]
    assert (page["total"], page["currentPage"], page["limit"]) == (5, 2, 2)


def test_list_page_past_the_end_is_empty(app, client, admin, auth):
    make_customers(auth, *[(f"c{n}@example.com", f"Customer {n}") for n in range(3)])

    page = listing(client, admin, page=3, limit=2)

    assert page == {
        "items": [],
        "total": 3,
        "totalExact": True,
        "hasMore": False,
        "currentPage": 3,
        "limit": 2,
    }


def test_list_keyword_matches_name_or_email_in_any_case(app, client, admin, auth):
    make_customers(
        auth,
        ("alice@example.com", "Alice Baker"),
        ("bob@bakery.example", "Bob Stone"),
        ("carol@example.com", "Carol King"),
    )

    page = listing(client, admin, keyword="BaKeR", ob="email")

    assert emails(page) == ["alice@example.com", "bob@bakery.example"]
    assert page["total"] == 2


def test_list_full_name_filter_matches_the_name_only(app, client, admin, auth):
    make_customers(
        auth,
        ("stone@example.com", "Dan Brown"),
        ("bob@example.com", "Bob Stone"),
        ("amy@example.com", "Amy STONEY"),
    )

    page = listing(client, admin, full_name="stone", ob="email")

    assert emails(page) == ["amy@example.com", "bob@example.com"]


def test_list_email_filter_is_exact_but_case_insensitive(app, client, admin, auth):
    make_customers(
        auth,
        ("alice@example.com", "Alice"),
        ("malice@example.com", "Malice"),
        ("alice@example.co", "Alice Co"),
    )

    assert emails(listing(client, admin, email="ALICE@Example.COM")) == ["alice@example.com"]
    assert emails(listing(client, admin, email="alice@example")) == []


def test_list_status_filter(app, client, admin, auth):
    make_customers(
        auth,
        ("on@example.com", "On"),
        ("off@example.com", "Off", {"status": 0}),
    )

    assert emails(listing(client, admin, status=0)) == ["off@example.com"]
    assert emails(listing(client, admin, status="1")) == ["on@example.com"]


def test_list_group_id_filter(app, client, admin, auth):
    execute(app, "INSERT INTO customer_group (group_name) VALUES ('Wholesale')")
    ((group_id,),) = query(
        app, "SELECT customer_group_id FROM customer_group WHERE group_name = 'Wholesale'"
    )
    make_customers(
        auth,
        ("retail@example.com", "Retail"),
        ("trade@example.com", "Trade", {"group_id": group_id}),
    )

    assert emails(listing(client, admin, group_id=group_id)) == ["trade@example.com"]
    assert emails(listing(client, admin, group_id=1)) == ["retail@example.com"]


@pytest.fixture
def ordered_people(app, auth):
    """Four customers (ids carl, abel, dora, bert) ordered differently by each key."""
    made = make_customers(
        auth,
        ("carl@example.com", "Bea Carl"),
        ("abel@example.com", "Dan Abel", {"status": 0}),
        ("dora@example.com", "Ann Dora", {"status": 0}),
        ("bert@example.com", "Cid Bert"),
    )
    created = [
        "2024-01-01 10:00:00",
        "2024-03-01 10:00:00",
        "2024-02-01 10:00:00",
        "2024-04-01 10:00:00",
    ]
    for customer, stamp in zip(made, created, strict=True):
        execute(
            app,
            "UPDATE customer SET created_at = :stamp WHERE customer_id = :id",
            stamp=stamp,
            id=customer["customer_id"],
        )
    return made


@pytest.mark.parametrize(
    ("ob", "od", "expected"),
    [
        ("email", "asc", ["abel", "bert", "carl", "dora"]),
        ("email", "desc", ["dora", "carl", "bert", "abel"]),
        ("name", "asc", ["dora", "carl", "bert", "abel"]),
        ("name", "desc", ["abel", "bert", "carl", "dora"]),
        ("status", "asc", ["abel", "dora", "carl", "bert"]),
        ("status", "desc", ["bert", "carl", "dora", "abel"]),
        ("created_at", "asc", ["carl", "dora", "abel", "bert"]),
        ("created_at", "desc", ["bert", "abel", "dora", "carl"]),
    ],
)
def test_list_orders_by_ob_and_od(app, client, admin, ordered_people, ob, od, expected):
    page = listing(client, admin, ob=ob, od=od)

    assert emails(page) == [f"{name}@example.com" for name in expected]


def test_list_treats_percent_in_keyword_literally(app, client, admin, auth):
    make_customers(
        auth,
        ("cotton@example.com", "100% Cotton"),
        ("plain@example.com", "Plain Name"),
    )

    assert emails(listing(client, admin, keyword="%")) == ["cotton@example.com"]
    assert emails(listing(client, admin, keyword="0% c")) == ["cotton@example.com"]


def test_list_treats_underscore_in_keyword_literally(app, client, admin, auth):
    make_customers(
        auth,
        ("under@example.com", "Under_Score"),
        ("plain@example.com", "Plain Name"),
        ("abc@example.com", "UnderXScore"),
    )

    assert emails(listing(client, admin, keyword="_")) == ["under@example.com"]
    assert emails(listing(client, admin, full_name="r_s")) == ["under@example.com"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "x"),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "x"),
        ("ob", "password"),
        ("od", "up"),
        ("status", "5"),
        ("status", "yes"),
        ("group_id", "x"),
        ("nickname", "x"),
    ],
)
def test_list_refuses_a_bad_parameter(app, client, admin, param, value):
    response = client.get("/api/customers", query_string={param: value}, headers=admin)

    assert_field_error(response, param)


def test_list_accepts_limit_100(app, client, admin, auth):
    make_customers(auth, ("ann@example.com", "Ann"))

    assert listing(client, admin, limit=100)["limit"] == 100


def test_list_with_a_customer_token_is_403(app, client, auth, customer):
    headers = auth.customer_headers()

    response = client.get("/api/customers", headers=headers)

    assert_error(response, 403)


def test_list_without_a_token_is_401(app, client):
    response = client.get("/api/customers")

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
