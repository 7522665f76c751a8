"""POST /api/customers: admin create, public sign-up, uniqueness
(docs/api.md, "Customers" and "Password reset")."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.db import db
from tests.conftest import Auth
from tests.helpers import query

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
    "links",
    "insertId",  # EverShop's name for the new id
    # the verification plugin's fields (docs/api.md, "Email verification")
    "email_verified",
    "pending_email",
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
PASSWORD = "customer-pass-1"
BODY = {"email": "john.smith@example.com", "password": PASSWORD, "full_name": "John Smith"}


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


def customer_rows(app) -> list[tuple]:
    return query(
        app, "SELECT email, full_name, status, group_id FROM customer ORDER BY customer_id"
    )


def add_group(app, name: str = "Wholesale") -> int:
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO customer_group (group_name) VALUES (:name)"), {"name": name}
            )
            group_id = conn.execute(
                sa.text("SELECT customer_group_id FROM customer_group WHERE group_name = :name"),
                {"name": name},
            ).scalar_one()
        db.session.remove()
    return group_id


def keys_anywhere(value) -> set[str]:
    """Every key of every object nested in a JSON value."""
    if isinstance(value, dict):
        found = set(value)
        for item in value.values():
            found |= keys_anywhere(item)
        return found
    if isinstance(value, list):
        return set().union(*(keys_anywhere(item) for item in value)) if value else set()
    return set()


def assert_field_error(response, field: str) -> None:
    """A 400 in the error envelope naming exactly ``field``."""
    assert response.status_code == 400, response.json
    body = response.json
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "message", "errors"}
    assert error["status"] == 400
    assert isinstance(error["message"], str) and error["message"]
    assert [item["field"] for item in error["errors"]] == [field]
    assert all(isinstance(item["message"], str) and item["message"] for item in error["errors"])


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


def post(client, body, headers=None):
    return client.post("/api/customers", json=body, headers=headers or {})


# --- admin create: the answer ---------------------------------------------------


def test_admin_create_answers_201_with_location_of_the_customer(app, client, admin):
    response = post(client, BODY, admin)

    assert response.status_code == 201
    customer_uuid = response.json["data"]["uuid"]
    assert response.headers["Location"] == f"/api/customers/{customer_uuid}"


def test_admin_create_answers_exactly_the_customer_fields(app, client, admin):
    response = post(client, BODY, admin)

    assert response.status_code == 201
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) == CUSTOMER_FIELDS
    assert isinstance(data["customer_id"], int) and not isinstance(data["customer_id"], bool)
    assert data["uuid"] == str(uuid.UUID(data["uuid"]))
    assert data["email"] == "john.smith@example.com"
    assert data["full_name"] == "John Smith"
    assert TIMESTAMP.match(data["created_at"])
    assert data["updated_at"] == data["created_at"]


def test_admin_create_answers_the_contract_links(app, client, admin):
    response = post(client, BODY, admin)

    assert response.status_code == 201
    data = response.json["data"]
    assert data["links"] == contract_links(data["uuid"])


def test_admin_create_never_shows_the_password_or_its_hash(app, client, admin):
    response = post(client, BODY, admin)

    assert response.status_code == 201
    assert "password" not in keys_anywhere(response.json)
    text = response.get_data(as_text=True)
    assert PASSWORD not in text
    assert "$2b$" not in text


def test_admin_create_defaults_status_1_and_group_1(app, client, admin):
    response = post(client, BODY, admin)

    assert response.status_code == 201
    assert response.json["data"]["status"] == 1
    assert response.json["data"]["group_id"] == 1
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", 1, 1)]


def test_admin_create_stores_a_bcrypt_hash_not_the_password(app, client, admin):
    post(client, BODY, admin)

    ((stored,),) = query(app, "SELECT password FROM customer")
    assert stored.startswith("$2b$")
    assert stored != PASSWORD


@pytest.mark.parametrize(("sent", "stored"), [(0, 0), (1, 1), ("0", 0), ("1", 1)])
def test_admin_create_accepts_status(app, client, admin, sent, stored):
    response = post(client, {**BODY, "status": sent}, admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["status"] == stored
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", stored, 1)]


@pytest.mark.parametrize("sent", [2, -1, "yes", True, False, None, 1.5, "", "2", "-1"])
def test_admin_create_refuses_status(app, client, admin, events, sent):
    response = post(client, {**BODY, "status": sent}, admin)

    assert_field_error(response, "status")
    assert customer_rows(app) == []
    assert events() == []


def test_admin_create_refuses_an_unknown_group_id(app, client, admin, events):
    response = post(client, {**BODY, "group_id": 999}, admin)

    assert_field_error(response, "group_id")
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize("sent", ["x", True, 1.5, None, [1], {"id": 1}])
def test_admin_create_refuses_a_group_id_that_is_not_a_whole_number(
    app, client, admin, events, sent
):
    response = post(client, {**BODY, "group_id": sent}, admin)

    assert_field_error(response, "group_id")
    assert customer_rows(app) == []
    assert events() == []


def test_admin_create_accepts_an_existing_second_group(app, client, admin):
    group_id = add_group(app)

    response = post(client, {**BODY, "group_id": group_id}, admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["group_id"] == group_id
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", 1, group_id)]


def test_admin_create_accepts_group_id_as_a_string_of_digits(app, client, admin):
    group_id = add_group(app)

    response = post(client, {**BODY, "group_id": str(group_id)}, admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["group_id"] == group_id


# --- admin create: required fields ------------------------------------------------


@pytest.mark.parametrize("field", ["email", "password", "full_name"])
def test_admin_create_refuses_a_missing_field(app, client, admin, events, field):
    body = {name: value for name, value in BODY.items() if name != field}

    response = post(client, body, admin)

    assert_field_error(response, field)
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize("field", ["email", "password", "full_name"])
def test_admin_create_refuses_an_empty_field(app, client, admin, events, field):
    response = post(client, {**BODY, field: ""}, admin)

    assert_field_error(response, field)
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize("field", ["email", "password", "full_name"])
def test_admin_create_refuses_a_whitespace_only_field(app, client, admin, events, field):
    response = post(client, {**BODY, field: "   \t "}, admin)

    assert_field_error(response, field)
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize("field", ["email", "password", "full_name"])
@pytest.mark.parametrize("sent", [12345678, ["a@example.com"], {"v": "x"}, None, True])
def test_admin_create_refuses_a_field_of_the_wrong_type(app, client, admin, events, field, sent):
    response = post(client, {**BODY, field: sent}, admin)

    assert_field_error(response, field)
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize(
    "email",
    [
        "plainaddress",
        "@example.com",
        "john@",
        "john smith@example.com",
        "john@@example.com",
        "john@example..com",
        "john.smith@example",
        ".john@example.com",
        "john@example.com.",
        "<john@example.com>",
    ],
)
def test_admin_create_refuses_an_invalid_email(app, client, admin, events, email):
    response = post(client, {**BODY, "email": email}, admin)

    assert_field_error(response, "email")
    assert customer_rows(app) == []
    assert events() == []


def _email_of_length(length: int) -> str:
    domain_tail = "d" * (length - 64 - 1 - 64 - 64 - 4) + ".com"
    email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + domain_tail
    assert len(email) == length
    return email


def test_admin_create_refuses_an_email_over_254_characters(app, client, admin, events):
    response = post(client, {**BODY, "email": _email_of_length(255)}, admin)

    assert_field_error(response, "email")
    assert customer_rows(app) == []
    assert events() == []


def test_admin_create_accepts_an_email_of_254_characters(app, client, admin):
    email = _email_of_length(254)

    response = post(client, {**BODY, "email": email}, admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == email


def test_admin_create_trims_email_and_full_name(app, client, admin):
    body = {**BODY, "email": "  john.smith@example.com ", "full_name": " John Smith  "}

    response = post(client, body, admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == "john.smith@example.com"
    assert response.json["data"]["full_name"] == "John Smith"


def test_admin_create_refuses_an_unknown_field(app, client, admin, events):
    response = post(client, {**BODY, "nickname": "Johnny"}, admin)

    assert_field_error(response, "nickname")
    assert customer_rows(app) == []
    assert events() == []


# --- admin create: password rules -------------------------------------------------


def test_admin_create_refuses_a_password_shorter_than_the_minimum(app, client, admin, events):
    short = "p" * (app.config["PASSWORD_MIN_LENGTH"] - 1)

    response = post(client, {**BODY, "password": short}, admin)

    assert_field_error(response, "password")
    assert customer_rows(app) == []
    assert events() == []


def test_admin_create_accepts_a_password_of_the_minimum_length(app, client, admin):
    exact = "p" * app.config["PASSWORD_MIN_LENGTH"]

    response = post(client, {**BODY, "password": exact}, admin)

    assert response.status_code == 201, response.json


def test_admin_create_follows_a_configured_minimum_length(make_app):
    app = make_app(PASSWORD_MIN_LENGTH=12)
    client = app.test_client()

    admin = Auth(app, client).admin_headers()

    refused = post(client, {**BODY, "password": "p" * 11}, admin)
    accepted = post(client, {**BODY, "password": "p" * 12}, admin)

    assert_field_error(refused, "password")
    assert accepted.status_code == 201, accepted.json


@pytest.mark.parametrize(
    "password",
    ["é" * 36 + "a", "a" * 73, "€" * 24 + "a"],
    ids=["two-byte-73", "ascii-73", "three-byte-73"],
)
def test_admin_create_refuses_a_password_over_72_bytes(app, client, admin, events, password):
    assert len(password.encode("utf-8")) == 73

    response = post(client, {**BODY, "password": password}, admin)

    assert_field_error(response, "password")
    assert customer_rows(app) == []
    assert events() == []


@pytest.mark.parametrize(
    "password", ["é" * 36, "a" * 72, "€" * 24], ids=["two-byte-72", "ascii-72", "three-byte-72"]
)
def test_admin_create_accepts_a_password_of_72_bytes_that_then_logs_in(
    app, client, admin, auth, password
):
    assert len(password.encode("utf-8")) == 72

    response = post(client, {**BODY, "password": password}, admin)

    assert response.status_code == 201, response.json
    assert set(auth.customer_tokens(BODY["email"], password)) == {"accessToken", "refreshToken"}


def test_admin_create_keeps_the_password_exactly_as_sent(app, client, admin, auth):
    password = "  spaced pass  "

    response = post(client, {**BODY, "password": password}, admin)

    assert response.status_code == 201, response.json
    assert auth.customer_tokens(BODY["email"], password)["accessToken"]
    refused = client.post(
        "/api/customer/tokens", json={"email": BODY["email"], "password": password.strip()}
    )
    assert refused.status_code == 401


# --- admin create: uniqueness -----------------------------------------------------


def test_admin_create_refuses_a_taken_email(app, client, admin, events):
    first = post(client, BODY, admin)
    assert first.status_code == 201

    response = post(client, {**BODY, "full_name": "Someone Else"}, admin)

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", 1, 1)]
    assert [name for name, _ in events()] == ["customer_registered"]


def test_admin_create_refuses_a_taken_email_in_another_letter_case(app, client, admin, events):
    first = post(client, BODY, admin)
    assert first.status_code == 201

    response = post(client, {**BODY, "email": "John.SMITH@Example.COM"}, admin)

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", 1, 1)]
    assert [name for name, _ in events()] == ["customer_registered"]


def test_concurrent_creates_of_one_email_make_exactly_one_customer(app, auth, backend):
    admin = auth.admin_headers()
    emails = [
        "race@example.com",
        "RACE@example.com",
        "Race@Example.com",
        "race@EXAMPLE.com",
        "rAce@example.com",
        "raCe@example.COM",
        "racE@Example.Com",
        "RACE@EXAMPLE.COM",
    ]
    barrier = threading.Barrier(len(emails))

    def create(email):
        client = app.test_client()
        barrier.wait(timeout=60)
        response = client.post(
            "/api/customers",
            json={"email": email, "password": PASSWORD, "full_name": "Racer"},
            headers=admin,
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        answers = list(pool.map(create, emails))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (len(emails) - 1)
    conflicts = [body for status, body in answers if status == 409]
    assert all(
        body == {"error": {"status": 409, "message": "Email is already used"}} for body in conflicts
    )
    assert query(app, "SELECT count(*) FROM customer WHERE lower(email) = 'race@example.com'") == [
        (1,)
    ]
    assert query(app, "SELECT count(*) FROM event_outbox") == [(1,)]


# --- admin create: events ---------------------------------------------------------


def test_admin_create_of_an_active_customer_emits_customer_registered(app, client, admin, events):
    response = post(client, {**BODY, "status": 1}, admin)

    assert response.status_code == 201
    shown = {k: v for k, v in response.json["data"].items() if k not in ("links", "insertId")}
    assert events() == [("customer_registered", shown)]


def test_admin_create_of_a_disabled_customer_emits_account_created(app, client, admin, events):
    response = post(client, {**BODY, "status": 0}, admin)

    assert response.status_code == 201
    shown = {k: v for k, v in response.json["data"].items() if k not in ("links", "insertId")}
    assert events() == [("account_created", shown)]


def test_admin_create_event_carries_no_password(app, client, admin, events):
    post(client, BODY, admin)

    ((_, payload),) = events()
    assert "password" not in keys_anywhere(payload)
    assert "$2b$" not in str(payload)


# --- public sign-up ---------------------------------------------------------------


def test_public_signup_creates_an_active_customer_in_the_default_group(app, client, events):
    response = post(client, BODY)

    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert set(data) == CUSTOMER_FIELDS
    assert (data["status"], data["group_id"], data["email"]) == (1, 1, BODY["email"])
    assert data["links"] == contract_links(data["uuid"])
    assert response.headers["Location"] == f"/api/customers/{data['uuid']}"
    assert customer_rows(app) == [("john.smith@example.com", "John Smith", 1, 1)]
    # a visitor's sign-up also asks for a verification link
    assert [name for name, _ in events()] == [
        "customer_registered",
        "customer_email_verification_requested",
    ]


def test_public_signup_customer_can_log_in(app, client, auth):
    post(client, BODY)

    assert set(auth.customer_tokens(BODY["email"], PASSWORD)) == {"accessToken", "refreshToken"}


@pytest.mark.parametrize(
    "extra",
    [
        {"status": 1},
        {"status": 0},
        {"status": "zz"},
        {"status": None},
        {"group_id": 1},
        {"group_id": "zz"},
        {"group_id": None},
        {"status": 1, "group_id": 1},
    ],
)
def test_public_signup_refuses_status_or_group_id(app, client, events, extra):
    response = post(client, {**BODY, **extra})

    assert response.status_code == 403
    error = response.json["error"]
    assert set(error) == {"status", "message"}
    assert error["status"] == 403 and error["message"]
    assert customer_rows(app) == []
    assert events() == []


def test_public_signup_applies_the_same_rules_as_create(app, client, events):
    response = post(client, {**BODY, "password": "short"})

    assert_field_error(response, "password")
    assert customer_rows(app) == []
    assert events() == []


def test_public_signup_refuses_a_taken_email(app, client, events):
    assert post(client, BODY).status_code == 201

    response = post(client, {**BODY, "email": "JOHN.smith@example.com"})

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert len(customer_rows(app)) == 1
    assert [name for name, _ in events()] == [
        "customer_registered",
        "customer_email_verification_requested",
    ]


def test_public_signup_is_refused_when_registration_is_closed(app, make_app, events):
    closed = make_app(CUSTOMER_REGISTRATION_OPEN=False)

    response = post(closed.test_client(), BODY)

    assert response.status_code == 403
    error = response.json["error"]
    assert set(error) == {"status", "message"}
    assert error["status"] == 403 and error["message"]
    assert customer_rows(app) == []
    assert events() == []


def test_admin_create_works_when_registration_is_closed(app, make_app):
    closed = make_app(CUSTOMER_REGISTRATION_OPEN=False)
    client = closed.test_client()

    admin = Auth(closed, client).admin_headers()

    response = post(client, BODY, admin)

    assert response.status_code == 201, response.json


def test_create_with_a_customer_token_is_forbidden(app, client, auth, events):
    auth.create_customer()
    headers = auth.customer_headers()

    response = post(client, {**BODY, "email": "other@example.com"}, headers)

    assert response.status_code == 403
    error = response.json["error"]
    assert set(error) == {"status", "message"}
    assert error["status"] == 403 and error["message"]
    assert [row[0] for row in customer_rows(app)] == ["john.smith@example.com"]
    assert [name for name, _ in events()] == ["customer_registered"]


def test_create_with_an_invalid_token_is_unauthorized_not_a_signup(app, client, events):
    response = post(client, BODY, {"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json["error"]["status"] == 401
    assert customer_rows(app) == []
    assert events() == []
