"""Every REST operation of the OpenAPI document, fuzzed by schemathesis.

Requests are generated from the document itself (valid and invalid ones) and
sent to the app with real tokens: an admin's, or for the routes only a
customer may call, a customer's. Path parameters are sometimes swapped for a
customer and an address that exist, so that requests reach past the 404.
Whatever is sent, no answer is a 5xx, every status is one the document lists
for the operation, and every body matches the documented schema.

The run is bounded and reproducible: a fixed number of examples per
operation, derandomized, no deadline. The operations are read from the
document once, at collection, and each runs on every database as its own
test (schemathesis' lazy fixture loader does not work with pytest 9.2, so the
document is loaded with ``from_dict`` and the app is passed to each call).
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app

EXAMPLES_PER_OPERATION = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Stand-ins drawn for path parameters, replaced by live ids right before the call.
KNOWN_CUSTOMER = "00000000-0000-4000-8000-00000000c0de"
KNOWN_ADDRESS = "00000000-0000-4000-8000-0000000add00"

OWNER = {"email": "fuzz.owner@example.com", "password": "owner-pass-1", "full_name": "Fuzz Owner"}
ADDRESS = {
    "full_name": "Fuzz Owner",
    "address_1": "1 Test St",
    "city": "Testville",
    "country": "US",
}


class World:
    """A customer with an address, recreated whenever a fuzzed request
    deleted, disabled or changed it, so that every case can reach it."""

    def __init__(self, client, admin_headers):
        self.client = client
        self.admin_headers = admin_headers
        self.customer_uuid = None
        self.address_uuid = None
        self.customer_headers = None
        self.ensure()

    def ensure(self) -> None:
        if self.customer_uuid is None or not self._owner_can_log_in():
            self._restore_owner()
        if self.address_uuid is None or not self._address_exists():
            created = self.client.post(
                f"/api/customers/{self.customer_uuid}/addresses",
                json=ADDRESS,
                headers=self.admin_headers,
            )
            assert created.status_code == 201, created.json
            self.address_uuid = created.json["data"]["uuid"]

    def _address_exists(self) -> bool:
        address = self.client.get(
            f"/api/customers/{self.customer_uuid}/addresses/{self.address_uuid}",
            headers=self.admin_headers,
        )
        return address.status_code == 200

    def _owner_can_log_in(self) -> bool:
        login = self.client.post(
            "/api/customer/tokens",
            json={"email": OWNER["email"], "password": OWNER["password"]},
        )
        if login.status_code != 200:
            return False
        self.customer_headers = {"Authorization": f"Bearer {login.json['data']['accessToken']}"}
        me = self.client.get("/api/customers/me", headers=self.customer_headers)
        return me.status_code == 200 and me.json["data"]["uuid"] == self.customer_uuid

    def _restore_owner(self) -> None:
        found = self.client.get(
            "/api/customers", query_string={"email": OWNER["email"]}, headers=self.admin_headers
        ).json["data"]["items"]
        if found:
            customer = found[0]
            restored = self.client.patch(
                f"/api/customers/{customer['uuid']}",
                json={"password": OWNER["password"], "status": 1},
                headers=self.admin_headers,
            )
            assert restored.status_code == 200, restored.json
        else:
            if self.customer_uuid is not None:
                # The owner's email was changed: move the old account out of the way.
                self.client.delete(
                    f"/api/customers/{self.customer_uuid}", headers=self.admin_headers
                )
            created = self.client.post("/api/customers", json=OWNER, headers=self.admin_headers)
            assert created.status_code == 201, created.json
            customer = created.json["data"]
        if customer["uuid"] != self.customer_uuid:
            self.address_uuid = None
        self.customer_uuid = customer["uuid"]
        assert self._owner_can_log_in()

    def resolve(self, case) -> dict:
        """Put live ids in place of the stand-ins; the headers for the case."""
        self.ensure()
        params = case.path_parameters or {}
        for name, stand_in, live in (
            ("customer_uuid", KNOWN_CUSTOMER, self.customer_uuid),
            ("address_uuid", KNOWN_ADDRESS, self.address_uuid),
        ):
            if params.get(name) == stand_in:
                params[name] = live
        security = case.operation.definition.raw.get("security") or []
        customer_only = security and all(set(r) == {"customerToken"} for r in security)
        return self.customer_headers if customer_only else self.admin_headers


@pytest.fixture
def world(app, client, auth) -> World:
    return World(client, auth.admin_headers())


def _document() -> dict:
    """The OpenAPI document, read once at collection (it is the same on every
    database): the operations to fuzz are those it lists."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "EVENTS_DELIVERY": "worker",
            "PLUGINS_ONLY": [],
            "SECRET_KEY": "fuzz",
            "JWT_ADMIN_SECRET": "fuzz-admin",
            "JWT_ADMIN_REFRESH_SECRET": "fuzz-admin-refresh",
            "JWT_CUSTOMER_SECRET": "fuzz-customer",
            "JWT_CUSTOMER_REFRESH_SECRET": "fuzz-customer-refresh",
        }
    )
    return app.test_client().get("/api/openapi.json").json


schema = schemathesis.openapi.from_dict(_document())


@schema.hook("flatmap_path_parameters")
def sometimes_known(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    known = dict(path_parameters)
    if "customer_uuid" in known:
        known["customer_uuid"] = KNOWN_CUSTOMER
    if "address_uuid" in known:
        known["address_uuid"] = KNOWN_ADDRESS
    return st.sampled_from([path_parameters, known])


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # The app, its database and the live customer are shared by the examples
    # of one operation on purpose; a slow example is a database round trip.
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.filter_too_much,
        hypothesis.HealthCheck.data_too_large,
    ],
)
def test_no_request_gets_a_server_error_or_an_undocumented_answer(case, app, world):
    # Given a generated request, aimed at live resources about half of the time
    headers = world.resolve(case)
    # When it is sent with a real token, then the answer is what the document says
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


# --- what the fuzzing found, replayed exactly ----------------------------------------
# Each of these was a 500 (on PostgreSQL, or on both databases) before it was fixed.


def customer_count(client, admin_headers) -> int:
    return client.get("/api/customers", headers=admin_headers).json["data"]["total"]


def test_a_nul_character_in_a_login_email_is_a_400_naming_the_field(client):
    # When a login email holds a NUL character (PostgreSQL refuses it in text)
    response = client.post(
        "/api/customer/tokens", json={"email": "a\u0000b@example.com", "password": "x"}
    )

    # Then it is refused as input, not a database fault
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Invalid email: Must not contain NUL characters.",
            "errors": [{"field": "email", "message": "Must not contain NUL characters."}],
        }
    }


def test_an_unpaired_surrogate_in_a_password_is_a_400_and_nothing_is_written(client, auth, events):
    # Given an admin
    admin = auth.admin_headers()

    # When a customer is created with a password holding a lone surrogate escape
    response = client.post(
        "/api/customers",
        data='{"email": "ann@example.com", "password": "pass\\ud800word", "full_name": "Ann"}',
        content_type="application/json",
        headers=admin,
    )

    # Then it is a 400 naming the password; no customer and no event
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "password", "message": "Must be valid Unicode text (no unpaired surrogates)."}
    ]
    assert customer_count(client, admin) == 0
    assert events() == []


def test_a_nul_character_in_a_field_name_is_a_400(client):
    # When a body's key holds a NUL character
    response = client.post("/api/customers/reset-password", json={"email\u0000": "ann@example.com"})

    # Then it is refused by name
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "email\u0000", "message": "Must not contain NUL characters."}
    ]


def test_a_nul_character_in_a_search_keyword_is_a_400(client, auth):
    # When the customer list is searched for text with a NUL character
    response = client.get(
        "/api/customers", query_string={"keyword": "a\u0000"}, headers=auth.admin_headers()
    )

    # Then it is a 400 naming the parameter
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "keyword", "message": "Must not contain NUL characters."}
    ]


def test_a_nul_character_in_a_graphql_filter_is_a_graphql_error(client, auth):
    # When a GraphQL filter value, written in the query itself, holds a NUL character
    query = (
        '{ customers(filters: [{key: "keyword", operation: like, value: "a\\u0000"}]) { total } }'
    )
    response = client.post(
        "/api/admin/graphql", json={"query": query}, headers=auth.admin_headers()
    )

    # Then it is an error of the query, named as such, and not a fault of the service
    assert response.status_code == 200
    assert response.json["data"] == {"customers": None}
    assert response.json["errors"][0]["message"] == (
        "Invalid keyword: Must not contain NUL characters."
    )


def test_a_group_id_beyond_32_bits_is_a_400_and_nothing_is_written(client, auth, events):
    # Given an admin
    admin = auth.admin_headers()

    # When a customer is created with a group id no integer column can hold
    response = client.post(
        "/api/customers",
        json={
            "email": "ann@example.com",
            "password": "ann-pass-12",
            "full_name": "Ann",
            "group_id": 10**30,
        },
        headers=admin,
    )

    # Then it is a 400 naming the field; no customer and no event
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "group_id", "message": "Must be between -2147483648 and 2147483647."}
    ]
    assert customer_count(client, admin) == 0
    assert events() == []


@pytest.mark.parametrize("page", ["99999999999999999999", "2147483648"])
def test_a_page_beyond_32_bits_is_a_400(client, auth, page):
    # When the list is asked for a page past any integer column
    response = client.get(
        "/api/customers", query_string={"page": page}, headers=auth.admin_headers()
    )

    # Then it is a 400 naming the page
    assert response.status_code == 400
    assert response.json["error"]["errors"][0]["field"] == "page"


@pytest.mark.parametrize("digits", ["--1", "\u00b2", "\u0663", "1" * 5000])
def test_only_ascii_digits_make_a_number(client, auth, digits):
    # When status is sent as text that is not a plain run of ASCII digits
    response = client.get(
        "/api/customers", query_string={"status": digits}, headers=auth.admin_headers()
    )

    # Then it is not a number: a 400, never a crash in int()
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "status", "message": "Not a valid integer."}
    ]
