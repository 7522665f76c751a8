"""docs/api.md, "Addresses", who may call the address routes: an admin, or the customer
whose uuid is in the path; anyone else 401 without a token, 403 with one. An
address of another customer is not found under this customer's path. And the
``/api/customers/me/addresses`` forms, for the customer of the token."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest

CUSTOMERS = "/api/customers"
NEW_ADDRESS = {
    "full_name": "John Smith",
    "address_1": "123 Main St",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
STRANGER_ADDRESS = {
    "full_name": "Jane Roe",
    "telephone": "+33 1 23 45 67 89",
    "address_1": "8 Rue Secrète",
    "city": "Lyon",
    "country": "FR",
    "postcode": "69002",
}
CHANGE = {"city": "Boston"}

NO_TOKEN = {
    "error": {"status": 401, "message": "Authentication is required: send a valid Bearer token."}
}
BAD_TOKEN = {"error": {"status": 401, "message": "The token is invalid or expired."}}
NOT_YOURS = {"error": {"status": 403, "message": "A customer may only manage its own addresses."}}
NOT_FOR_ADMIN = {
    "error": {"status": 403, "message": "This token does not grant access to this resource."}
}
ADDRESS_NOT_FOUND = {"error": {"status": 404, "message": "Address not found."}}
INVALID_HEADERS = {"Authorization": "Bearer not.a.token"}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # "{customer}" and "{address}" are filled in
    body: dict | None
    status: int  # on success

    def url(self, customer: str = "", address: str = "") -> str:
        return CUSTOMERS + self.path.format(customer=customer, address=address)

    def call(self, client, headers=None, customer="", address="", body=None):
        return client.open(
            self.url(customer, address),
            method=self.method,
            json=body if body is not None else self.body,
            headers=headers or {},
        )


ROUTES = [
    Route("create", "POST", "/{customer}/addresses", NEW_ADDRESS, 201),
    Route("list", "GET", "/{customer}/addresses", None, 200),
    Route("read", "GET", "/{customer}/addresses/{address}", None, 200),
    Route("update", "PATCH", "/{customer}/addresses/{address}", CHANGE, 200),
    Route("delete", "DELETE", "/{customer}/addresses/{address}", None, 200),
]
ONE_ADDRESS_ROUTES = [route for route in ROUTES if "{address}" in route.path]
ME_ROUTES = [
    Route("create", "POST", "/me/addresses", NEW_ADDRESS, 201),
    Route("list", "GET", "/me/addresses", None, 200),
    Route("read", "GET", "/me/addresses/{address}", None, 200),
    Route("update", "PATCH", "/me/addresses/{address}", CHANGE, 200),
    Route("delete", "DELETE", "/me/addresses/{address}", None, 200),
]
ME_ONE_ADDRESS_ROUTES = [route for route in ME_ROUTES if "{address}" in route.path]

every_route = pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
every_one_address_route = pytest.mark.parametrize("route", ONE_ADDRESS_ROUTES, ids=lambda r: r.name)
every_me_route = pytest.mark.parametrize("route", ME_ROUTES, ids=lambda r: r.name)
every_me_one_address_route = pytest.mark.parametrize(
    "route", ME_ONE_ADDRESS_ROUTES, ids=lambda r: r.name
)
writes = pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.body is not None], ids=lambda r: r.name
)


@dataclass
class World:
    """Two customers with one address each, and the tokens to act as anyone."""

    admin: dict
    owner: dict
    owner_headers: dict
    owner_address: dict
    stranger: dict
    stranger_headers: dict
    stranger_address: dict


@pytest.fixture
def world(client, auth) -> World:
    admin = auth.admin_headers()
    owner = auth.create_customer()
    stranger = auth.create_customer(
        email="jane.roe@example.com", password="stranger-pass-1", full_name="Jane Roe"
    )
    addresses = {}
    for customer, body in ((owner, NEW_ADDRESS), (stranger, STRANGER_ADDRESS)):
        response = client.post(
            f"{CUSTOMERS}/{customer['uuid']}/addresses", json=body, headers=admin
        )
        assert response.status_code == 201, response.json
        created = response.json["data"]
        assert created.pop("insertId") == created["customer_address_id"]
        addresses[customer["uuid"]] = created
    return World(
        admin=admin,
        owner=owner,
        owner_headers=auth.customer_headers(),
        owner_address=addresses[owner["uuid"]],
        stranger=stranger,
        stranger_headers=auth.customer_headers("jane.roe@example.com", "stranger-pass-1"),
        stranger_address=addresses[stranger["uuid"]],
    )


def call_as_owner_path(client, route: Route, world: World, headers):
    """The route for the owner's own address, under the owner's path."""
    return route.call(client, headers, world.owner["uuid"], world.owner_address["uuid"])


def address_book(client, world: World, events) -> tuple:
    """Everything a refused request must leave as it was."""

    def listed(customer):
        response = client.get(f"{CUSTOMERS}/{customer['uuid']}/addresses", headers=world.admin)
        assert response.status_code == 200, response.json
        return response.json["data"]

    address_events = [(name, payload) for name, payload in events() if name.startswith("address_")]
    return listed(world.owner), listed(world.stranger), address_events


def on_me(address: dict) -> dict:
    """An address as the /me routes show it: its links are the /me routes."""
    href = f"{CUSTOMERS}/me/addresses/{address['uuid']}"
    return {**address, "links": [{**link, "href": href} for link in address["links"]]}


def assert_owner_route_succeeded(
    client, route: Route, world: World, response, me: bool = False
) -> None:
    """The answer each route gives when it is allowed, on the owner's address
    (``me``: through the /me routes, whose links are the /me routes)."""
    owner, address = world.owner, world.owner_address
    if me:
        address = on_me(address)
    assert response.status_code == route.status, response.json
    data = response.json["data"]
    if route.name == "create":
        assert {name: data[name] for name in NEW_ADDRESS} == NEW_ADDRESS
        assert data["customer_id"] == owner["customer_id"]
        assert data["uuid"] != address["uuid"]
        location = f"{CUSTOMERS}/{owner['uuid']}/addresses/{data['uuid']}"
        assert response.headers["Location"] == location
        shown = f"{CUSTOMERS}/me/addresses/{data['uuid']}" if me else location
        assert data["links"][0]["href"] == shown
    elif route.name == "list":
        assert data == [address]
    elif route.name == "read":
        assert data == address
    elif route.name == "update":
        assert data.pop("updatedId") == address["customer_address_id"]  # EverShop's name
        assert {k: v for k, v in data.items() if k != "updated_at"} == {
            k: v for k, v in address.items() if k != "updated_at"
        } | CHANGE
    elif route.name == "delete":
        assert data == address
        after = client.get(f"{CUSTOMERS}/{owner['uuid']}/addresses", headers=world.admin)
        assert after.json["data"] == []


# --- who may call --------------------------------------------------------------------


@every_route
def test_address_route_without_a_token_is_401(client, world, events, route):
    before = address_book(client, world, events)

    response = call_as_owner_path(client, route, world, None)

    assert response.status_code == 401
    assert response.json == NO_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert address_book(client, world, events) == before


@every_route
def test_address_route_with_an_invalid_token_is_401(client, world, events, route):
    before = address_book(client, world, events)

    response = call_as_owner_path(client, route, world, INVALID_HEADERS)

    assert response.status_code == 401
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert address_book(client, world, events) == before


@every_route
def test_address_route_with_a_refresh_token_is_401(client, auth, world, events, route):
    refresh = auth.customer_tokens()["refreshToken"]
    before = address_book(client, world, events)

    response = call_as_owner_path(client, route, world, {"Authorization": f"Bearer {refresh}"})

    assert response.status_code == 401
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert address_book(client, world, events) == before


@every_route
def test_address_route_is_allowed_to_an_admin(client, world, route):
    response = call_as_owner_path(client, route, world, world.admin)

    assert_owner_route_succeeded(client, route, world, response)


@every_route
def test_address_route_is_allowed_to_the_customer_of_the_path(client, world, route):
    response = call_as_owner_path(client, route, world, world.owner_headers)

    assert_owner_route_succeeded(client, route, world, response)


@every_route
def test_address_route_accepts_the_customer_uuid_as_32_hex_digits(client, world, route):
    customer_hex = uuid.UUID(world.owner["uuid"]).hex.upper()

    response = route.call(client, world.owner_headers, customer_hex, world.owner_address["uuid"])

    assert_owner_route_succeeded(client, route, world, response)


@every_route
def test_address_route_with_another_customers_token_is_403(client, world, events, route):
    before = address_book(client, world, events)

    response = call_as_owner_path(client, route, world, world.stranger_headers)

    assert response.status_code == 403
    assert response.json == NOT_YOURS
    assert address_book(client, world, events) == before


@every_route
def test_address_route_of_an_unknown_customer_with_a_customer_token_is_403(
    client, world, events, route
):
    # whether the customer exists is none of this customer's business
    before = address_book(client, world, events)

    response = route.call(
        client, world.stranger_headers, str(uuid.uuid4()), world.owner_address["uuid"]
    )

    assert response.status_code == 403
    assert response.json == NOT_YOURS
    assert address_book(client, world, events) == before


@writes
def test_address_write_is_refused_before_its_body_is_read(client, world, events, route):
    before = address_book(client, world, events)
    invalid = {"country": "nowhere", "nickname": "x"}

    anonymous = route.call(
        client, None, world.owner["uuid"], world.owner_address["uuid"], body=invalid
    )
    stranger = route.call(
        client,
        world.stranger_headers,
        world.owner["uuid"],
        world.owner_address["uuid"],
        body=invalid,
    )

    assert (anonymous.status_code, anonymous.json) == (401, NO_TOKEN)
    assert (stranger.status_code, stranger.json) == (403, NOT_YOURS)
    assert address_book(client, world, events) == before


# --- another customer's address under this customer's path ---------------------------


@every_one_address_route
@pytest.mark.parametrize("caller", ["admin", "owner"])
def test_another_customers_address_is_not_found_under_this_customers_path(
    client, world, events, route, caller
):
    headers = world.admin if caller == "admin" else world.owner_headers
    before = address_book(client, world, events)

    response = route.call(client, headers, world.owner["uuid"], world.stranger_address["uuid"])

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND
    # the answer is the one an address that does not exist gets
    unknown = route.call(client, headers, world.owner["uuid"], str(uuid.uuid4()))
    assert (unknown.status_code, unknown.json) == (404, response.json)
    text = response.get_data(as_text=True)
    for value in (world.stranger_address["uuid"], *STRANGER_ADDRESS.values()):
        assert value not in text
    assert json.dumps(STRANGER_ADDRESS["address_1"]) not in text
    assert address_book(client, world, events) == before


# --- /api/customers/me/addresses -----------------------------------------------------


@every_me_route
def test_me_address_route_works_for_the_customer_of_the_token(client, world, route):
    response = route.call(client, world.owner_headers, address=world.owner_address["uuid"])

    assert_owner_route_succeeded(client, route, world, response, me=True)


@every_me_route
def test_me_address_route_without_a_token_is_401(client, world, events, route):
    before = address_book(client, world, events)

    response = route.call(client, None, address=world.owner_address["uuid"])

    assert response.status_code == 401
    assert response.json == NO_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert address_book(client, world, events) == before


@every_me_route
def test_me_address_route_with_an_invalid_token_is_401(client, world, events, route):
    before = address_book(client, world, events)

    response = route.call(client, INVALID_HEADERS, address=world.owner_address["uuid"])

    assert response.status_code == 401
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert address_book(client, world, events) == before


@every_me_route
def test_me_address_route_with_an_admin_token_is_403(client, world, events, route):
    before = address_book(client, world, events)

    response = route.call(client, world.admin, address=world.owner_address["uuid"])

    assert response.status_code == 403
    assert response.json == NOT_FOR_ADMIN
    assert address_book(client, world, events) == before


@every_me_one_address_route
def test_another_customers_address_is_not_found_under_me(client, world, events, route):
    before = address_book(client, world, events)

    response = route.call(client, world.owner_headers, address=world.stranger_address["uuid"])

    assert response.status_code == 404
    assert response.json == ADDRESS_NOT_FOUND
    assert world.stranger_address["uuid"] not in response.get_data(as_text=True)
    assert address_book(client, world, events) == before


@every_me_one_address_route
def test_me_address_route_with_a_malformed_uuid_is_404(client, world, events, route):
    before = address_book(client, world, events)

    response = route.call(client, world.owner_headers, address="not-a-uuid")

    assert response.status_code == 404
    assert response.json == {
        "error": {"status": 404, "message": "No resource lives at this address."}
    }
    assert address_book(client, world, events) == before
