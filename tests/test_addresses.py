"""docs/api.md, "Addresses", customer addresses: create, read, list, update and delete, the
addresses in a customer's read, the seed's address curl lines and the
``address_rules`` hook. Who may call these routes is in test_addresses_access.py;
default-address switching in test_addresses_default.py."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.db import db
from app.plugins import hookimpl
from plugins.address.schemas import MAX_LENGTH
from tests.plugins.address_rules_plugin import POSTCODE_MESSAGE

CUSTOMERS = "/api/customers"
FORM = "application/x-www-form-urlencoded"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LATER = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
LATER_TEXT = "2031-05-06 07:08:09"

ADDRESS_KEYS = {
    "customer_address_id",
    "uuid",
    "customer_id",
    "full_name",
    "telephone",
    "address_1",
    "address_2",
    "city",
    "province",
    "country",
    "postcode",
    "is_default",
    "created_at",
    "updated_at",
    "links",
}
NEW_ADDRESS = {
    "full_name": "John Smith",
    "telephone": "+1 212 555 0100",
    "address_1": "123 Main St",
    "address_2": "Apt 4B",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
REQUIRED = ("full_name", "address_1", "city", "country")
OPTIONAL = ("telephone", "address_2", "province", "postcode")

# marshmallow's messages, as the service passes them on.
MISSING = "Missing data for required field."
NULL = "Field may not be null."
NOT_A_STRING = "Not a valid string."
COUNTRY_MESSAGE = 'Must be an ISO 3166-1 alpha-2 country code, e.g. "US".'
IS_DEFAULT_MESSAGE = 'Must be true, false, 0, 1, "0" or "1".'
CUSTOMER_NOT_FOUND = {"error": {"status": 404, "message": "Customer not found."}}
ADDRESS_NOT_FOUND = {"error": {"status": 404, "message": "Address not found."}}
NO_ROUTE = {"error": {"status": 404, "message": "No resource lives at this address."}}

# The seed's sample bodies and the keys of its sample answers.
SEED_CREATE_BODY = (
    '{"full_name":"John Smith","address_1":"123 Main St","city":"New York",'
    '"province":"NY","country":"US","postcode":"10001"}'
)
SEED_UPDATE_BODY = '{"full_name":"John A. Smith","address_1":"456 Oak Ave"}'
SEED_CREATE_SAMPLE = {
    "full_name": "John Smith",
    "address_1": "123 Main St",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
SEED_CREATE_KEYS = {"customer_address_id", "uuid", "customer_id", *SEED_CREATE_SAMPLE}
SEED_UPDATE_KEYS = {"customer_address_id", "uuid", "full_name", "address_1"}
SEED_DELETE_KEYS = {"customer_address_id", "uuid"}


# --- helpers -----------------------------------------------------------------------


def addresses_url(customer_uuid: str) -> str:
    return f"{CUSTOMERS}/{customer_uuid}/addresses"


def address_url(customer_uuid: str, address_uuid: str) -> str:
    return f"{CUSTOMERS}/{customer_uuid}/addresses/{address_uuid}"


def address_links(customer_uuid: str, address_uuid: str) -> list[dict]:
    href = address_url(customer_uuid, address_uuid)
    return [
        {"rel": "edit", "href": href, "action": "PATCH", "types": ["application/json"]},
        {"rel": "delete", "href": href, "action": "DELETE", "types": ["application/json"]},
    ]


def field_error(field: str, message: str) -> dict:
    return {
        "error": {
            "status": 400,
            "message": f"Invalid {field}: {message}",
            "errors": [{"field": field, "message": message}],
        }
    }


def create(client, headers, customer_uuid: str, **fields) -> dict:
    response = client.post(
        addresses_url(customer_uuid), json={**NEW_ADDRESS, **fields}, headers=headers
    )
    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert data.pop("insertId") == data["customer_address_id"]  # EverShop's name
    return data


def listed(client, headers, customer_uuid: str) -> list[dict]:
    response = client.get(addresses_url(customer_uuid), headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def on_me(address: dict) -> dict:
    """An address as its customer reads it on /me: links to the /me routes."""
    href = f"/api/customers/me/addresses/{address['uuid']}"
    return {**address, "links": [{**link, "href": href} for link in address["links"]]}


def address_events(events) -> list[tuple[str, dict]]:
    return [(name, payload) for name, payload in events() if name.startswith("address_")]


def address_rows(app, customer_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.text("SELECT count(*) FROM customer_address WHERE customer_id = :id"),
            {"id": customer_id},
        )
        db.session.remove()
    return count


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


@pytest.fixture
def address(client, admin, customer) -> dict:
    return create(client, admin, customer["uuid"])


def assert_no_address_written(client, admin, customer, events) -> None:
    assert listed(client, admin, customer["uuid"]) == []
    assert address_events(events) == []


def assert_address_unchanged(client, admin, customer, address, events) -> None:
    assert listed(client, admin, customer["uuid"]) == [address]
    assert address_events(events) == [("address_created", address)]


# --- create --------------------------------------------------------------------------


def test_create_answers_201_with_the_address_and_its_location(client, admin, customer):
    response = client.post(addresses_url(customer["uuid"]), json=NEW_ADDRESS, headers=admin)

    assert response.status_code == 201, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) == ADDRESS_KEYS | {"insertId"}
    assert data.pop("insertId") == data["customer_address_id"]  # EverShop's name
    assert isinstance(data["customer_address_id"], int)
    assert CANONICAL_UUID.match(data["uuid"])
    assert data["customer_id"] == customer["customer_id"]
    assert {name: data[name] for name in NEW_ADDRESS} == NEW_ADDRESS
    assert data["is_default"] is True  # the customer's first address
    assert TIMESTAMP.match(data["created_at"])
    assert data["updated_at"] == data["created_at"]
    assert data["links"] == address_links(customer["uuid"], data["uuid"])
    assert response.headers["Location"] == address_url(customer["uuid"], data["uuid"])


def test_create_stores_the_address(client, admin, customer):
    created = create(client, admin, customer["uuid"])

    response = client.get(address_url(customer["uuid"], created["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": created}


def test_create_stores_the_country_in_upper_case(client, admin, customer):
    data = create(client, admin, customer["uuid"], country="us")

    assert data["country"] == "US"
    assert listed(client, admin, customer["uuid"])[0]["country"] == "US"


def test_create_trims_string_fields(client, admin, customer):
    padded = {name: f"  {value}  " for name, value in NEW_ADDRESS.items()}

    data = create(client, admin, customer["uuid"], **padded)

    assert {name: data[name] for name in NEW_ADDRESS} == NEW_ADDRESS


def test_create_writes_an_address_created_event_with_the_address(client, admin, customer, events):
    data = create(client, admin, customer["uuid"])

    assert address_events(events) == [("address_created", data)]


def test_create_needs_only_the_required_fields(client, admin, customer):
    body = {name: NEW_ADDRESS[name] for name in REQUIRED}

    response = client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert {name: data[name] for name in REQUIRED} == body
    assert {name: data[name] for name in OPTIONAL} == dict.fromkeys(OPTIONAL)


@pytest.mark.parametrize("field", OPTIONAL)
@pytest.mark.parametrize("sent", ["", "   ", None], ids=["empty", "whitespace", "null"])
def test_create_stores_an_empty_optional_field_as_null(client, admin, customer, field, sent):
    data = create(client, admin, customer["uuid"], **{field: sent})

    assert data[field] is None
    assert listed(client, admin, customer["uuid"])[0][field] is None


def _required_cases():
    for field in REQUIRED:
        short = COUNTRY_MESSAGE if field == "country" else "Length must be between 1 and 255."
        yield pytest.param(field, "missing", MISSING, id=f"{field}-missing")
        yield pytest.param(field, "", short, id=f"{field}-empty")
        yield pytest.param(field, "   ", short, id=f"{field}-whitespace")
        yield pytest.param(field, None, NULL, id=f"{field}-null")
        yield pytest.param(field, 42, NOT_A_STRING, id=f"{field}-number")
        yield pytest.param(field, ["x"], NOT_A_STRING, id=f"{field}-list")


@pytest.mark.parametrize(("field", "sent", "message"), list(_required_cases()))
def test_create_refuses_a_required_field_missing_empty_or_of_the_wrong_type(
    client, admin, customer, events, field, sent, message
):
    body = dict(NEW_ADDRESS)
    if sent == "missing":
        del body[field]
    else:
        body[field] = sent

    response = client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 400
    assert response.json == field_error(field, message)
    assert_no_address_written(client, admin, customer, events)


@pytest.mark.parametrize("field", OPTIONAL)
def test_create_refuses_an_optional_field_of_the_wrong_type(client, admin, customer, events, field):
    response = client.post(
        addresses_url(customer["uuid"]), json={**NEW_ADDRESS, field: 10001}, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error(field, NOT_A_STRING)
    assert_no_address_written(client, admin, customer, events)


@pytest.mark.parametrize("country", ["USA", "XX", "1", "U", "zz", "U S"])
def test_create_refuses_a_country_that_is_not_an_iso_alpha_2_code(
    client, admin, customer, events, country
):
    response = client.post(
        addresses_url(customer["uuid"]), json={**NEW_ADDRESS, "country": country}, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error("country", COUNTRY_MESSAGE)
    assert_no_address_written(client, admin, customer, events)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [(True, True), (False, False), (0, False), (1, True), ("0", False), ("1", True)],
    ids=["true", "false", "0", "1", "string-0", "string-1"],
)
def test_create_accepts_each_is_default_form(client, admin, customer, sent, stored):
    data = create(client, admin, customer["uuid"], is_default=sent)

    assert data["is_default"] is stored
    assert listed(client, admin, customer["uuid"])[0]["is_default"] is stored


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (2, IS_DEFAULT_MESSAGE),
        ("true", IS_DEFAULT_MESSAGE),
        ("yes", IS_DEFAULT_MESSAGE),
        (None, NULL),
        (1.0, IS_DEFAULT_MESSAGE),
        ([], IS_DEFAULT_MESSAGE),
        ("", IS_DEFAULT_MESSAGE),
    ],
    ids=["2", "string-true", "yes", "null", "1.0", "list", "empty"],
)
def test_create_refuses_any_other_is_default(client, admin, customer, events, sent, message):
    response = client.post(
        addresses_url(customer["uuid"]), json={**NEW_ADDRESS, "is_default": sent}, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error("is_default", message)
    assert_no_address_written(client, admin, customer, events)


def test_create_refuses_unknown_fields_naming_them(client, admin, customer, events):
    body = {**NEW_ADDRESS, "floor": 3, "nickname": "Home"}

    response = client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 400
    error = response.json["error"]
    assert set(response.json) == {"error"}
    assert set(error) == {"status", "message", "errors"}
    assert error["status"] == 400
    # the order in which unknown fields are named is not part of the contract
    assert sorted(error["errors"], key=lambda e: e["field"]) == [
        {"field": "floor", "message": "Unknown field."},
        {"field": "nickname", "message": "Unknown field."},
    ]
    named = ", ".join(e["field"] for e in error["errors"])
    assert error["message"] == f"Unknown field(s): {named}."
    assert_no_address_written(client, admin, customer, events)


def _too_long_cases():
    for field, limit in MAX_LENGTH.items():
        if field == "country":
            continue  # a code of 3 letters is refused as a code (see above)
        if field in REQUIRED:
            message = f"Length must be between 1 and {limit}."
        else:
            message = f"Longer than maximum length {limit}."
        yield pytest.param(field, limit, message, id=field)


@pytest.mark.parametrize(("field", "limit", "message"), list(_too_long_cases()))
def test_create_refuses_a_value_longer_than_its_field_allows(
    client, admin, customer, events, field, limit, message
):
    body = {**NEW_ADDRESS, field: "9" * (limit + 1)}

    response = client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 400
    assert response.json == field_error(field, message)
    assert_no_address_written(client, admin, customer, events)


@pytest.mark.parametrize(
    ("field", "limit"),
    [(field, limit) for field, limit in MAX_LENGTH.items() if field != "country"],
    ids=[field for field in MAX_LENGTH if field != "country"],
)
def test_create_accepts_a_value_of_exactly_the_longest_length(
    client, admin, customer, field, limit
):
    data = create(client, admin, customer["uuid"], **{field: "é" * limit})

    assert data[field] == "é" * limit
    assert listed(client, admin, customer["uuid"])[0][field] == "é" * limit


def test_create_for_an_unknown_customer_is_404(client, admin, events):
    response = client.post(addresses_url(str(uuid.uuid4())), json=NEW_ADDRESS, headers=admin)

    assert response.status_code == 404
    assert response.json == CUSTOMER_NOT_FOUND
    assert address_events(events) == []


def test_create_for_a_malformed_customer_uuid_is_404(client, admin, events):
    response = client.post(addresses_url("not-a-uuid"), json=NEW_ADDRESS, headers=admin)

    assert response.status_code == 404
    assert response.json == NO_ROUTE
    assert address_events(events) == []


# --- read one ------------------------------------------------------------------------


def test_read_answers_the_address(client, admin, customer, address):
    response = client.get(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": address}


def test_read_accepts_uuids_as_32_hex_digits_in_any_case(client, admin, customer, address):
    customer_hex = uuid.UUID(customer["uuid"]).hex.upper()
    address_hex = uuid.UUID(address["uuid"]).hex.upper()

    response = client.get(address_url(customer_hex, address_hex), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": address}


def test_read_an_unknown_address_is_404(client, admin, customer, address):
    response = client.get(address_url(customer["uuid"], str(uuid.uuid4())), headers=admin)

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND


def test_read_an_address_of_an_unknown_customer_is_404(client, admin, address):
    response = client.get(address_url(str(uuid.uuid4()), address["uuid"]), headers=admin)

    assert response.status_code == 404
    assert response.json == CUSTOMER_NOT_FOUND


@pytest.mark.parametrize("malformed", ["not-a-uuid", "1234", "0" * 31, "g" * 32])
def test_read_a_malformed_address_uuid_is_404(client, admin, customer, address, malformed):
    response = client.get(address_url(customer["uuid"], malformed), headers=admin)

    assert response.status_code == 404
    assert response.json == NO_ROUTE


# --- list ----------------------------------------------------------------------------


def test_list_answers_the_addresses_default_first(client, admin, customer):
    first = create(client, admin, customer["uuid"], city="Albany", is_default=False)
    second = create(client, admin, customer["uuid"], city="Buffalo", is_default=False)
    default = create(client, admin, customer["uuid"], city="Chicago", is_default=True)

    response = client.get(addresses_url(customer["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": [default, first, second]}


def test_list_of_a_customer_without_addresses_is_empty(client, admin, customer):
    response = client.get(addresses_url(customer["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": []}


def test_list_shows_only_this_customers_addresses(client, auth, admin, customer, address):
    other = auth.create_customer(email="jane.roe@example.com", full_name="Jane Roe")
    create(client, admin, other["uuid"], full_name="Jane Roe")

    response = client.get(addresses_url(customer["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": [address]}


def test_list_of_an_unknown_customer_is_404(client, admin):
    response = client.get(addresses_url(str(uuid.uuid4())), headers=admin)

    assert response.status_code == 404
    assert response.json == CUSTOMER_NOT_FOUND


# --- update --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("full_name", "Jane Roe", "Jane Roe"),
        ("telephone", "+33 1 23 45 67 89", "+33 1 23 45 67 89"),
        ("address_1", "456 Oak Ave", "456 Oak Ave"),
        ("address_2", "Floor 2", "Floor 2"),
        ("city", "  Boston ", "Boston"),
        ("province", "MA", "MA"),
        ("country", "fr", "FR"),
        ("postcode", "02108", "02108"),
    ],
    ids=[
        "full_name",
        "telephone",
        "address_1",
        "address_2",
        "city",
        "province",
        "country",
        "postcode",
    ],
)
def test_update_changes_only_the_field_sent(
    client, admin, customer, address, monkeypatch, field, sent, stored
):
    monkeypatch.setattr("plugins.address.service.utcnow", lambda: LATER)

    response = client.patch(
        address_url(customer["uuid"], address["uuid"]), json={field: sent}, headers=admin
    )

    assert response.status_code == 200, response.json
    expected = {**address, field: stored, "updated_at": LATER_TEXT}
    assert response.json == {"data": {**expected, "updatedId": address["customer_address_id"]}}
    assert listed(client, admin, customer["uuid"]) == [expected]


@pytest.mark.parametrize("field", OPTIONAL)
@pytest.mark.parametrize("sent", ["", None], ids=["empty", "null"])
def test_update_clears_an_optional_field_to_null(client, admin, customer, address, field, sent):
    response = client.patch(
        address_url(customer["uuid"], address["uuid"]), json={field: sent}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert response.json["data"][field] is None
    assert listed(client, admin, customer["uuid"])[0][field] is None


def test_update_writes_an_address_updated_event_with_the_address(
    client, admin, customer, address, events
):
    response = client.patch(
        address_url(customer["uuid"], address["uuid"]), json={"city": "Boston"}, headers=admin
    )

    assert response.status_code == 200, response.json
    shown = dict(response.json["data"])
    assert shown.pop("updatedId") == address["customer_address_id"]  # the answer's only
    assert address_events(events) == [("address_created", address), ("address_updated", shown)]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"city": ""}, "city", "Length must be between 1 and 255."),
        ({"full_name": "   "}, "full_name", "Length must be between 1 and 255."),
        ({"address_1": None}, "address_1", NULL),
        ({"country": None}, "country", NULL),
        ({"country": "zz"}, "country", COUNTRY_MESSAGE),
        ({"country": "USA"}, "country", COUNTRY_MESSAGE),
        ({"is_default": "yes"}, "is_default", IS_DEFAULT_MESSAGE),
        ({"postcode": "9" * 33}, "postcode", "Longer than maximum length 32."),
    ],
    ids=[
        "city-empty",
        "full_name-whitespace",
        "address_1-null",
        "country-null",
        "country-zz",
        "country-USA",
        "is_default-yes",
        "postcode-too-long",
    ],
)
def test_update_refuses_a_change_that_leaves_the_address_invalid(
    client, admin, customer, address, events, body, field, message
):
    response = client.patch(
        address_url(customer["uuid"], address["uuid"]), json=body, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error(field, message)
    assert_address_unchanged(client, admin, customer, address, events)


def test_update_with_an_empty_body_changes_nothing(client, admin, customer, address, events):
    response = client.patch(address_url(customer["uuid"], address["uuid"]), json={}, headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {**address, "updatedId": address["customer_address_id"]}}
    assert_address_unchanged(client, admin, customer, address, events)


def test_update_refuses_unknown_fields_naming_them(client, admin, customer, address, events):
    response = client.patch(
        address_url(customer["uuid"], address["uuid"]),
        json={"city": "Boston", "nickname": "Home"},
        headers=admin,
    )

    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Unknown field(s): nickname.",
            "errors": [{"field": "nickname", "message": "Unknown field."}],
        }
    }
    assert_address_unchanged(client, admin, customer, address, events)


def test_update_an_unknown_address_is_404(client, admin, customer, address, events):
    response = client.patch(
        address_url(customer["uuid"], str(uuid.uuid4())), json={"city": "Boston"}, headers=admin
    )

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND
    assert_address_unchanged(client, admin, customer, address, events)


def test_update_an_address_of_an_unknown_customer_is_404(client, admin, customer, address, events):
    response = client.patch(
        address_url(str(uuid.uuid4()), address["uuid"]), json={"city": "Boston"}, headers=admin
    )

    assert response.status_code == 404
    assert response.json == CUSTOMER_NOT_FOUND
    assert_address_unchanged(client, admin, customer, address, events)


# --- delete --------------------------------------------------------------------------


def test_delete_answers_the_deleted_address(client, admin, customer, address):
    response = client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": address}
    assert listed(client, admin, customer["uuid"]) == []


def test_read_after_delete_is_404(client, admin, customer, address):
    client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    response = client.get(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND


def test_delete_twice_is_404_the_second_time(client, admin, customer, address, events):
    client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    response = client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND
    assert [name for name, _ in address_events(events)] == ["address_created", "address_deleted"]


def test_delete_writes_an_address_deleted_event_with_the_address(
    client, admin, customer, address, events
):
    client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert address_events(events) == [("address_created", address), ("address_deleted", address)]


def test_delete_leaves_the_customers_other_addresses(client, admin, customer, address):
    other = create(client, admin, customer["uuid"], city="Boston", is_default=False)

    client.delete(address_url(customer["uuid"], address["uuid"]), headers=admin)

    assert listed(client, admin, customer["uuid"]) == [other]


# --- the customer's read -------------------------------------------------------------


def test_customer_read_includes_its_addresses_default_first(client, admin, customer):
    other = create(client, admin, customer["uuid"], city="Boston", is_default=False)
    default = create(client, admin, customer["uuid"], city="Chicago", is_default=True)

    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=admin)

    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]
    assert response.json["data"]["addresses"] == [default, other]


def test_customer_read_of_a_customer_without_addresses_has_an_empty_list(client, admin, customer):
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=admin)

    assert response.status_code == 200, response.json
    assert response.json["data"]["addresses"] == []


def test_me_includes_the_customers_addresses_default_first(client, auth, admin, customer):
    other = create(client, admin, customer["uuid"], city="Boston", is_default=False)
    default = create(client, admin, customer["uuid"], city="Chicago", is_default=True)

    response = client.get(f"{CUSTOMERS}/me", headers=auth.customer_headers())

    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]
    # Read by the customer on /me, their links are the /me routes.
    assert response.json["data"]["addresses"] == [on_me(default), on_me(other)]


def test_deleting_the_customer_deletes_its_addresses(app, client, auth, admin, customer):
    create(client, admin, customer["uuid"], city="Boston")
    create(client, admin, customer["uuid"], city="Chicago")
    other = auth.create_customer(email="jane.roe@example.com", full_name="Jane Roe")
    kept = create(client, admin, other["uuid"], full_name="Jane Roe")
    assert address_rows(app, customer["customer_id"]) == 2

    response = client.delete(f"{CUSTOMERS}/{customer['uuid']}", headers=admin)

    assert response.status_code == 200, response.json
    assert address_rows(app, customer["customer_id"]) == 0
    assert listed(client, admin, other["uuid"]) == [kept]


# --- the seed's curl lines -----------------------------------------------------------


@pytest.fixture
def curl_headers(admin) -> dict:
    """The seed's -H lines, with an admin token added."""
    return {"Accept": "application/json", "Authorization": admin["Authorization"]}


def send(client, method: str, path: str, headers: dict, raw: str | None, content_type):
    kwargs = {"headers": headers}
    if raw is not None:
        kwargs["data"] = raw
    if content_type is not None:
        kwargs["content_type"] = content_type
    response = client.open(path, method=method, **kwargs)
    # The replay is verbatim: the raw body went out with only this Content-Type.
    assert response.request.headers.get("Content-Type") == content_type
    return response


CONTENT_TYPES = pytest.mark.parametrize(
    "content_type", [None, FORM], ids=["no-content-type", "form"]
)


@CONTENT_TYPES
def test_seed_create_address_request_works_verbatim(
    client, curl_headers, customer, events, content_type
):
    response = send(
        client,
        "POST",
        addresses_url(customer["uuid"]),
        curl_headers,
        SEED_CREATE_BODY,
        content_type,
    )

    assert response.status_code == 201, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) >= SEED_CREATE_KEYS
    assert isinstance(data["customer_address_id"], int)
    assert CANONICAL_UUID.match(data["uuid"])
    assert data["customer_id"] == customer["customer_id"]
    assert {name: data[name] for name in SEED_CREATE_SAMPLE} == SEED_CREATE_SAMPLE
    assert response.headers["Location"] == address_url(customer["uuid"], data["uuid"])
    assert data.pop("insertId") == data["customer_address_id"]  # the answer's only
    assert address_events(events) == [("address_created", data)]


@CONTENT_TYPES
def test_seed_update_address_request_works_verbatim(client, curl_headers, customer, content_type):
    created = send(
        client,
        "POST",
        addresses_url(customer["uuid"]),
        curl_headers,
        SEED_CREATE_BODY,
        content_type,
    ).json["data"]

    response = send(
        client,
        "PATCH",
        address_url(customer["uuid"], created["uuid"]),
        curl_headers,
        SEED_UPDATE_BODY,
        content_type,
    )

    assert response.status_code == 200, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) >= SEED_UPDATE_KEYS
    assert (data["customer_address_id"], data["uuid"]) == (
        created["customer_address_id"],
        created["uuid"],
    )
    assert (data["full_name"], data["address_1"]) == ("John A. Smith", "456 Oak Ave")
    assert {name: data[name] for name in ("city", "province", "country", "postcode")} == {
        "city": "New York",
        "province": "NY",
        "country": "US",
        "postcode": "10001",
    }


@CONTENT_TYPES
def test_seed_delete_address_request_works_verbatim(client, curl_headers, customer, content_type):
    created = send(
        client,
        "POST",
        addresses_url(customer["uuid"]),
        curl_headers,
        SEED_CREATE_BODY,
        content_type,
    ).json["data"]

    response = send(
        client, "DELETE", address_url(customer["uuid"], created["uuid"]), curl_headers, None, None
    )

    assert response.status_code == 200, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) >= SEED_DELETE_KEYS
    assert (data["customer_address_id"], data["uuid"]) == (
        created["customer_address_id"],
        created["uuid"],
    )
    assert listed(client, curl_headers, customer["uuid"]) == []


@CONTENT_TYPES
def test_seed_create_address_with_a_real_form_body_is_415(
    client, curl_headers, customer, events, content_type
):
    response = send(
        client,
        "POST",
        addresses_url(customer["uuid"]),
        curl_headers,
        "full_name=John+Smith&address_1=123+Main+St&city=New+York&country=US",
        content_type,
    )

    assert response.status_code == 415
    assert response.json == {
        "error": {
            "status": 415,
            "message": "Send the body as JSON with Content-Type: application/json.",
        }
    }
    assert listed(client, curl_headers, customer["uuid"]) == []
    assert address_events(events) == []


# --- address_rules -------------------------------------------------------------------


@pytest.fixture
def rules_client(make_app):
    """A client of an app that loads the sample address-rules plugin by the
    ``PLUGINS`` setting, on the same database as ``app``."""
    return make_app(PLUGINS=["tests.plugins.address_rules_plugin"]).test_client()


def test_address_rules_refuse_a_us_address_without_postcode(
    rules_client, client, admin, customer, events
):
    body = {**NEW_ADDRESS, "postcode": None}

    response = rules_client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 400
    assert response.json == field_error("postcode", POSTCODE_MESSAGE)
    assert_no_address_written(client, admin, customer, events)


def test_rules_plugin_refuses_a_us_address_with_an_empty_postcode(
    rules_client, client, admin, customer, events
):
    body = {**NEW_ADDRESS, "country": "us", "postcode": "  "}

    response = rules_client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 400
    assert response.json == field_error("postcode", POSTCODE_MESSAGE)
    assert_no_address_written(client, admin, customer, events)


def test_rules_plugin_accepts_a_us_address_with_a_postcode(rules_client, admin, customer):
    response = rules_client.post(addresses_url(customer["uuid"]), json=NEW_ADDRESS, headers=admin)

    assert response.status_code == 201, response.json
    assert response.json["data"]["postcode"] == "10001"


def test_rules_plugin_accepts_a_french_address_without_postcode(rules_client, admin, customer):
    body = {name: NEW_ADDRESS[name] for name in REQUIRED} | {"city": "Paris", "country": "FR"}

    response = rules_client.post(addresses_url(customer["uuid"]), json=body, headers=admin)

    assert response.status_code == 201, response.json
    assert (response.json["data"]["country"], response.json["data"]["postcode"]) == ("FR", None)


def test_rules_plugin_refuses_removing_the_postcode_of_a_us_address(
    rules_client, client, admin, customer, address, events
):
    response = rules_client.patch(
        address_url(customer["uuid"], address["uuid"]), json={"postcode": None}, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error("postcode", POSTCODE_MESSAGE)
    assert_address_unchanged(client, admin, customer, address, events)


def test_rules_plugin_refuses_moving_an_address_without_postcode_to_the_us(
    rules_client, client, admin, customer, events
):
    french = create(
        client, admin, customer["uuid"], city="Paris", country="FR", postcode=None, province=None
    )

    response = rules_client.patch(
        address_url(customer["uuid"], french["uuid"]), json={"country": "us"}, headers=admin
    )

    assert response.status_code == 400
    assert response.json == field_error("postcode", POSTCODE_MESSAGE)
    assert_address_unchanged(client, admin, customer, french, events)


def test_rules_plugin_accepts_a_change_that_keeps_the_address_valid(
    rules_client, client, admin, customer, address
):
    response = rules_client.patch(
        address_url(customer["uuid"], address["uuid"]), json={"city": "Boston"}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["city"] == "Boston"
    assert response.json["data"]["postcode"] == "10001"


class RefuseEveryAddress:
    """A rule answering a plain message: the whole address is refused."""

    MESSAGE = "This store does not ship anywhere yet."

    @hookimpl
    def address_rules(self):
        return lambda address: self.MESSAGE


def test_address_rules_returning_a_message_refuse_the_whole_address(
    client, register_plugin, admin, customer, events
):
    register_plugin(RefuseEveryAddress())

    response = client.post(addresses_url(customer["uuid"]), json=NEW_ADDRESS, headers=admin)

    assert response.status_code == 400
    assert response.json == {"error": {"status": 400, "message": RefuseEveryAddress.MESSAGE}}
    assert_no_address_written(client, admin, customer, events)


def test_a_customers_addresses_read_in_a_write_include_one_added_earlier_in_it(app, auth):
    from app.transactions import transaction
    from plugins.address.models import CustomerAddress
    from plugins.address.service import addresses_by_customer

    customer = auth.create_customer()
    with app.app_context():
        with transaction() as session:
            session.add(
                CustomerAddress(
                    customer_id=customer["customer_id"], country="US", city="Added Unflushed"
                )
            )
            found = addresses_by_customer([customer])[customer["customer_id"]]
        db.session.remove()

    assert [address["city"] for address in found] == ["Added Unflushed"]
    assert found[0]["links"][0]["href"].startswith(f"/api/customers/{customer['uuid']}/addresses/")
