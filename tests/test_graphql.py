"""GraphQL (docs/api.md, "GraphQL"): the admin endpoint (``customer``, ``customers``), the
storefront endpoint (``currentCustomer``), their authentication, the GraphQL
error convention, batching (no N+1) and plugins extending the schema."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import jwt
import pytest
import sqlalchemy as sa

from app.db import db
from plugins.address.models import CustomerAddress
from plugins.customer.models import Customer, CustomerGroup
from tests.plugins import graphql_extension

ADMIN_GRAPHQL = "/api/admin/graphql"
PUBLIC_GRAPHQL = "/api/graphql"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"

NO_TOKEN = {
    "error": {"status": 401, "message": "Authentication is required: send a valid Bearer token."}
}
BAD_TOKEN = {"error": {"status": 401, "message": "The token is invalid or expired."}}
ACCOUNT_GONE = {
    "error": {
        "status": 401,
        "message": "The token's account no longer exists, is disabled, or its token was revoked.",
    }
}
WRONG_TOKEN_TYPE = {
    "error": {"status": 403, "message": "This token does not grant access to this resource."}
}
NO_QUERY = {"error": {"status": 400, "message": "Send a GraphQL query in the 'query' field."}}

ADDRESS_FIELDS = """
    customerAddressId uuid fullName telephone address1 address2 city
    province { code name countryCode }
    country { code name }
    postcode isDefault updateApi deleteApi
"""
CUSTOMER_FIELDS = f"""
    customerId uuid status email fullName groupId
    group {{ customerGroupId groupName }}
    createdAt {{ value text }}
    updatedAt {{ value text }}
    editUrl updateApi deleteApi
    addresses {{ {ADDRESS_FIELDS} }}
"""
CUSTOMER_BY_ID = f"query One($id: String) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
CURRENT_CUSTOMER = f"{{ currentCustomer {{ {CUSTOMER_FIELDS} }} }}"


# --- helpers -------------------------------------------------------------------


def post(client, query: str, variables=None, headers=None, path=ADMIN_GRAPHQL):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post(path, json=body, headers=headers or {})


def expected_date(timestamp: str) -> dict:
    """The ``Date`` EverShop gives for an API timestamp ("YYYY-MM-DD HH:MM:SS", UTC)."""
    moment = datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return {
        "value": str(int(moment.timestamp()) * 1000),
        "text": f"{moment:%b} {moment.day}, {moment.year}",
    }


def assert_own_date(shown: dict, timestamp: str) -> None:
    """The storefront's ``Date`` of ``currentCustomer.createdAt``: EverShop's
    storefront gives the value in ISO 8601 with milliseconds."""
    moment = datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", shown["value"])
    assert shown["value"][:19] == f"{moment:%Y-%m-%dT%H:%M:%S}"
    assert shown["text"] == f"{moment:%b} {moment.day}, {moment.year}"


def add_group(app, name: str) -> dict:
    with app.app_context():
        group = CustomerGroup(group_name=name)
        db.session.add(group)
        db.session.commit()
        found = {"customerGroupId": group.customer_group_id, "groupName": group.group_name}
        db.session.remove()
    return found


def add_address(client, headers, customer: dict, **fields) -> dict:
    response = client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=fields, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def read_customer(client, headers, customer: dict) -> dict:
    response = client.get(f"/api/customers/{customer['uuid']}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def set_timestamps(app, customer: dict, created_at: datetime, updated_at: datetime) -> None:
    with app.app_context():
        row = db.session.get(Customer, customer["customer_id"])
        row.created_at = created_at
        row.updated_at = updated_at
        db.session.commit()
        db.session.remove()


def seed_customers(app, count: int, addresses_each: int, group_ids=(1,)) -> None:
    """``count`` customers with ``addresses_each`` addresses, written directly;
    the customers take the ``group_ids`` in turn."""
    with app.app_context():
        for n in range(count):
            customer = Customer(
                email=f"bulk{n:03}@example.com",
                password="unused",
                full_name=f"Bulk {n:03}",
                group_id=group_ids[n % len(group_ids)],
            )
            db.session.add(customer)
            db.session.flush()
            for k in range(addresses_each):
                db.session.add(
                    CustomerAddress(
                        customer_id=customer.customer_id,
                        full_name=f"Bulk {n:03}",
                        address_1=f"{k + 1} Main Street",
                        city="Albany",
                        province="NY",
                        country="US",
                        is_default=k == 0,
                    )
                )
        db.session.commit()
        db.session.remove()


def count_statements(app, send) -> tuple:
    """The response of ``send()`` and the SQL statements run while it ran."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = send()
    finally:
        with app.app_context():
            sa.event.remove(engine, "before_cursor_execute", record)
    return response, statements


def expired_customer_token(app, customer: dict) -> str:
    past = int(time.time()) - 60
    claims = {
        "customer": {
            name: customer[name]
            for name in ("customer_id", "uuid", "email", "full_name", "status", "group_id")
        },
        "tokenType": "customer",
        "tokenKind": "access",
        "iss": "evershop",
        "aud": "customer",
        "iat": past - 1800,
        "exp": past,
    }
    return jwt.encode(claims, app.config["JWT_CUSTOMER_SECRET"], algorithm="HS256")


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


@pytest.fixture
def ext_client(make_app, app):
    """A client of an app that also loads the sample GraphQL plugin."""
    return make_app(PLUGINS=["tests.plugins.graphql_extension"]).test_client()


# --- customer(id:) -------------------------------------------------------------


def test_admin_customer_returns_every_field_with_exact_values(app, client, auth, admin):
    # Given: a customer in a group of its own with two addresses
    group = add_group(app, "Wholesale")
    created = auth.create_customer(
        email="ann.lee@example.com",
        full_name="Ann Lee",
        status=0,
        group_id=group["customerGroupId"],
    )
    home = add_address(
        client,
        admin,
        created,
        full_name="Ann Lee",
        telephone="+1 212 555 0100",
        address_1="1 Broadway",
        address_2="Floor 2",
        city="New York",
        province="NY",
        country="us",
        postcode="10004",
    )
    office = add_address(
        client,
        admin,
        created,
        full_name="Ann Lee (office)",
        address_1="5 Rue Nowhere",
        city="Lyon",
        province="Zzz",
        country="FR",
    )
    stored = read_customer(client, admin, created)
    uuid = created["uuid"]

    # When
    response = post(client, CUSTOMER_BY_ID, {"id": uuid}, admin)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customer": {
                "customerId": created["customer_id"],
                "uuid": uuid,
                "status": 0,
                "email": "ann.lee@example.com",
                "fullName": "Ann Lee",
                "groupId": group["customerGroupId"],
                "group": group,
                "createdAt": expected_date(stored["created_at"]),
                "updatedAt": expected_date(stored["updated_at"]),
                "editUrl": f"/admin/customers/edit/{uuid}",
                "updateApi": f"/api/customers/{uuid}",
                "deleteApi": f"/api/customers/{uuid}",
                "addresses": [
                    {
                        "customerAddressId": home["customer_address_id"],
                        "uuid": home["uuid"],
                        "fullName": "Ann Lee",
                        "telephone": "+1 212 555 0100",
                        "address1": "1 Broadway",
                        "address2": "Floor 2",
                        "city": "New York",
                        "province": {"code": "NY", "name": "New York", "countryCode": "US"},
                        "country": {"code": "US", "name": "United States"},
                        "postcode": "10004",
                        "isDefault": True,
                        "updateApi": f"/api/customers/{uuid}/addresses/{home['uuid']}",
                        "deleteApi": f"/api/customers/{uuid}/addresses/{home['uuid']}",
                    },
                    {
                        "customerAddressId": office["customer_address_id"],
                        "uuid": office["uuid"],
                        "fullName": "Ann Lee (office)",
                        "telephone": None,
                        "address1": "5 Rue Nowhere",
                        "address2": None,
                        "city": "Lyon",
                        "province": {"code": "Zzz", "name": "Zzz", "countryCode": "FR"},
                        "country": {"code": "FR", "name": "France"},
                        "postcode": None,
                        "isDefault": False,
                        "updateApi": f"/api/customers/{uuid}/addresses/{office['uuid']}",
                        "deleteApi": f"/api/customers/{uuid}/addresses/{office['uuid']}",
                    },
                ],
            }
        }
    }


def test_customer_dates_are_epoch_milliseconds_and_a_short_date(app, client, admin, customer):
    # Given: known creation and update moments
    set_timestamps(
        app,
        customer,
        created_at=datetime(2026, 11, 27, 8, 15, 30, tzinfo=UTC),
        updated_at=datetime(2027, 3, 5, 23, 59, 59, tzinfo=UTC),
    )

    # When
    response = post(
        client,
        "query($id: String) {"
        " customer(id: $id) { createdAt { value text } updatedAt { value text } } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customer": {
                "createdAt": {"value": "1795767330000", "text": "Nov 27, 2026"},
                "updatedAt": {"value": "1804291199000", "text": "Mar 5, 2027"},
            }
        }
    }


def test_customer_without_addresses_has_an_empty_address_list(client, admin, customer):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid addresses { uuid } } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customer": {"uuid": customer["uuid"], "addresses": []}}}


def test_customer_whose_group_was_deleted_has_no_group(app, client, auth, admin):
    # Given: the customer's group is removed (the column is set to null)
    group = add_group(app, "Seasonal")
    created = auth.create_customer(group_id=group["customerGroupId"])
    with app.app_context():
        db.session.execute(
            sa.text("DELETE FROM customer_group WHERE customer_group_id = :id"),
            {"id": group["customerGroupId"]},
        )
        db.session.commit()
        db.session.remove()

    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid groupId group { groupName } } }",
        {"id": created["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": created["uuid"], "groupId": None, "group": None}}
    }


@pytest.mark.parametrize(
    "spell",
    [
        lambda u: u.upper(),
        lambda u: u.replace("-", ""),
        lambda u: u.replace("-", "").upper(),
    ],
    ids=["upper-case", "32-hex-digits", "32-hex-digits-upper-case"],
)
def test_customer_accepts_the_uuid_in_every_path_form(client, admin, customer, spell):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid email } }",
        {"id": spell(customer["uuid"])},
        admin,
    )

    # Then: the canonical form comes back
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": customer["uuid"], "email": "john.smith@example.com"}}
    }


@pytest.mark.parametrize(
    "given_id",
    [
        UNKNOWN_UUID,
        "not-a-uuid",
        "",
        "12345",
        "0000000000004000800000000000000000",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        "' OR 1=1 --",
        None,
    ],
    ids=["unknown", "words", "empty", "number", "too-long", "not-hex", "sql", "null"],
)
def test_customer_with_an_unknown_or_malformed_id_is_null_without_errors(
    client, admin, customer, given_id
):
    # When
    response = post(
        client, "query($id: String) { customer(id: $id) { uuid } }", {"id": given_id}, admin
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customer": None}}


def test_customer_never_exposes_the_password_hash(client, admin, customer):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { password } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then: there is no such field
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    assert response.json["errors"][0]["message"] == (
        "Cannot query field 'password' on type 'Customer'."
    )
    assert "$2b$" not in response.get_data(as_text=True)


# --- GET -----------------------------------------------------------------------


def test_get_admin_graphql_answers_as_post_does(client, auth, admin, customer):
    # Given
    add_address(
        client, admin, customer, full_name="J S", address_1="1 A St", city="Town", country="US"
    )
    query = f'{{ customer(id: "{customer["uuid"]}") {{ {CUSTOMER_FIELDS} }} }}'
    expected = post(client, CUSTOMER_BY_ID, {"id": customer["uuid"]}, admin)
    assert expected.status_code == 200, expected.json

    # When
    response = client.get(ADMIN_GRAPHQL, query_string={"query": query}, headers=admin)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == expected.json
    assert response.json["data"]["customer"]["uuid"] == customer["uuid"]


def test_get_admin_graphql_reads_variables_from_the_query_string(client, admin, customer):
    # When
    response = client.get(
        ADMIN_GRAPHQL,
        query_string={
            "query": "query($id: String) { customer(id: $id) { uuid fullName } }",
            "variables": json.dumps({"id": customer["uuid"]}),
        },
        headers=admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": customer["uuid"], "fullName": "John Smith"}}
    }


def test_get_admin_graphql_with_malformed_variables_is_400(client, admin, customer):
    # When
    response = client.get(
        ADMIN_GRAPHQL,
        query_string={
            "query": "query($id: String) { customer(id: $id) { uuid } }",
            "variables": '{"id": ',
        },
        headers=admin,
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "The variables parameter is not valid JSON."}
    }


def test_get_admin_graphql_refuses_a_mutation(client, admin):
    # When
    response = client.get(
        ADMIN_GRAPHQL, query_string={"query": "mutation { anything }"}, headers=admin
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "Mutations are not accepted over GET."}
    }


# --- customers(filters:) -------------------------------------------------------


def test_customers_keyword_with_limit_returns_matching_customers_with_addresses(
    client, auth, admin
):
    # Given: three customers match "smith" (two by name, one by email), one does not
    john = auth.create_customer(email="john@example.com", full_name="John Smith")
    auth.create_customer(email="alice@example.com", full_name="Alice Jones")
    jane = auth.create_customer(email="jane@example.com", full_name="Jane SMITH")
    bob = auth.create_customer(email="bob@smithfield.example", full_name="Bob Brown")
    jane_home = add_address(
        client, admin, jane, full_name="Jane", address_1="1 Elm St", city="Leeds", country="GB"
    )
    jane_work = add_address(
        client, admin, jane, full_name="Jane", address_1="2 Oak St", city="York", country="GB"
    )
    bob_home = add_address(
        client, admin, bob, full_name="Bob", address_1="3 Ash St", city="Paris", country="FR"
    )
    add_address(
        client, admin, john, full_name="John", address_1="4 Fir St", city="Oslo", country="NO"
    )

    # When
    response = post(
        client,
        """{
          customers(filters: [
            {key: "keyword", operation: eq, value: "smith"},
            {key: "limit", operation: eq, value: "2"}
          ]) {
            items { uuid fullName addresses { uuid country { code name } } }
            total
            currentPage
            currentFilters { key operation value }
          }
        }""",
        headers=admin,
    )

    # Then: the two newest matches, all three counted
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customers": {
                "items": [
                    {
                        "uuid": bob["uuid"],
                        "fullName": "Bob Brown",
                        "addresses": [
                            {"uuid": bob_home["uuid"], "country": {"code": "FR", "name": "France"}}
                        ],
                    },
                    {
                        "uuid": jane["uuid"],
                        "fullName": "Jane SMITH",
                        "addresses": [
                            {
                                "uuid": jane_home["uuid"],
                                "country": {"code": "GB", "name": "United Kingdom"},
                            },
                            {
                                "uuid": jane_work["uuid"],
                                "country": {"code": "GB", "name": "United Kingdom"},
                            },
                        ],
                    },
                ],
                "total": 3,
                "currentPage": 1,
                "currentFilters": [
                    {"key": "keyword", "operation": "eq", "value": "smith"},
                    {"key": "limit", "operation": "eq", "value": "2"},
                    {"key": "page", "operation": "eq", "value": "1"},
                ],
            }
        }
    }


def test_customers_page_costs_the_same_number_of_statements_whatever_its_size(app, client, admin):
    # Given: 50 customers in two groups, with two addresses each
    wholesale = add_group(app, "Wholesale")
    seed_customers(app, count=50, addresses_each=2, group_ids=(1, wholesale["customerGroupId"]))
    query = """query($limit: ID) {
      customers(filters: [{key: "limit", operation: eq, value: $limit}]) {
        items { uuid group { groupName } addresses { uuid country { name } } }
      }
    }"""
    warm_up = post(client, query, {"limit": "1"}, admin)
    assert warm_up.status_code == 200, warm_up.json

    # When
    one, one_statements = count_statements(app, lambda: post(client, query, {"limit": "1"}, admin))
    fifty, fifty_statements = count_statements(
        app, lambda: post(client, query, {"limit": "50"}, admin)
    )

    # Then: both pages are complete, and cost the same
    assert one.status_code == 200, one.json
    assert fifty.status_code == 200, fifty.json
    assert len(one.json["data"]["customers"]["items"]) == 1
    items = fifty.json["data"]["customers"]["items"]
    assert len(items) == 50
    assert (
        sorted(item["group"]["groupName"] for item in items)
        == ["Default"] * 25 + ["Wholesale"] * 25
    )
    assert all(len(item["addresses"]) == 2 for item in items)
    assert all(
        address["country"] == {"name": "United States"}
        for item in items
        for address in item["addresses"]
    )
    assert one_statements
    assert len(fifty_statements) == len(one_statements), (one_statements, fifty_statements)


def test_customers_with_a_bad_filter_is_a_graphql_error_on_the_field(client, admin, customer):
    # When
    response = post(
        client,
        '{ customers(filters: [{key: "limit", operation: eq, value: "0"}]) { total } }',
        headers=admin,
    )

    # Then: HTTP 200, the field is null and the error points at it
    assert response.status_code == 200, response.json
    assert response.json["data"] == {"customers": None}
    (error,) = response.json["errors"]
    assert error["path"] == ["customers"]
    assert "limit" in error["message"]


# --- the storefront endpoint ---------------------------------------------------


def test_current_customer_with_a_customer_token_is_that_customer(client, auth, admin, customer):
    # Given: another customer, and an address for ours
    auth.create_customer(email="other@example.com", full_name="Other One")
    home = add_address(
        client,
        admin,
        customer,
        full_name="John Smith",
        address_1="1 Main St",
        city="Albany",
        province="NY",
        country="US",
    )
    headers = auth.customer_headers()
    admin_view = post(client, CUSTOMER_BY_ID, {"id": customer["uuid"]}, admin)
    assert admin_view.status_code == 200, admin_view.json

    # When
    response = post(client, CURRENT_CUSTOMER, headers=headers, path=PUBLIC_GRAPHQL)

    # Then: the same customer as an admin sees it, but for the address links,
    # which are the customer's own routes (/me) as EverShop's storefront has
    # them, and createdAt's value, in ISO 8601 as EverShop's storefront gives it
    assert response.status_code == 200, response.json
    current = response.json["data"]["currentCustomer"]
    own = f"/api/customers/me/addresses/{home['uuid']}"
    assert current["addresses"][0]["updateApi"] == own
    assert current["addresses"][0]["deleteApi"] == own
    admin_seen = admin_view.json["data"]["customer"]
    assert admin_seen["addresses"][0]["updateApi"] == (
        f"/api/customers/{customer['uuid']}/addresses/{home['uuid']}"
    )
    for address in (*current["addresses"], *admin_seen["addresses"]):
        del address["updateApi"], address["deleteApi"]
    assert_own_date(current.pop("createdAt"), customer["created_at"])
    admin_seen.pop("createdAt")
    assert current == admin_seen
    assert current["uuid"] == customer["uuid"]
    assert current["email"] == "john.smith@example.com"
    assert [a["uuid"] for a in current["addresses"]] == [home["uuid"]]
    assert current["addresses"][0]["province"] == {
        "code": "NY",
        "name": "New York",
        "countryCode": "US",
    }


def test_current_customer_without_a_token_is_null(client, customer):
    # When
    response = post(client, "{ currentCustomer { uuid } }", path=PUBLIC_GRAPHQL)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"currentCustomer": None}}


def test_current_customer_with_an_admin_token_is_null(client, admin, customer):
    # When
    response = post(client, "{ currentCustomer { uuid } }", headers=admin, path=PUBLIC_GRAPHQL)

    # Then: an admin is not a customer
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"currentCustomer": None}}


@pytest.mark.parametrize("kind", ["garbage", "expired"])
def test_public_graphql_with_an_invalid_token_is_401_not_anonymous(app, client, customer, kind):
    # Given
    token = "not.a.token" if kind == "garbage" else expired_customer_token(app, customer)

    # When
    response = post(
        client,
        "{ currentCustomer { uuid } }",
        headers={"Authorization": f"Bearer {token}"},
        path=PUBLIC_GRAPHQL,
    )

    # Then
    assert response.status_code == 401, response.json
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_public_graphql_with_the_token_of_a_disabled_customer_is_401(client, auth, admin, customer):
    # Given: a token issued before an admin disabled the account
    headers = auth.customer_headers()
    disabled = client.patch(f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=admin)
    assert disabled.status_code == 200, disabled.json

    # When
    response = post(client, "{ currentCustomer { uuid } }", headers=headers, path=PUBLIC_GRAPHQL)

    # Then
    assert response.status_code == 401, response.json
    assert response.json == ACCOUNT_GONE
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "query",
    [
        f'{{ customer(id: "{UNKNOWN_UUID}") {{ uuid }} }}',
        "{ customers { total } }",
    ],
    ids=["customer", "customers"],
)
def test_public_graphql_has_no_admin_queries(client, auth, customer, query):
    # Given
    headers = auth.customer_headers()

    # When
    response = post(client, query, headers=headers, path=PUBLIC_GRAPHQL)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    field = query.split("(")[0].split("{")[1].strip()
    assert response.json["errors"][0]["message"] == (
        f"Cannot query field '{field}' on type 'Query'."
    )


@pytest.mark.parametrize(
    "query",
    ["{ __schema { types { name } } }", '{ __type(name: "Customer") { fields { name } } }'],
    ids=["__schema", "__type"],
)
def test_public_graphql_refuses_introspection(client, query):
    # When
    response = post(client, query, path=PUBLIC_GRAPHQL)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    assert "introspection" in response.json["errors"][0]["message"].lower()


def test_admin_graphql_allows_introspection(client, admin):
    # When
    response = post(client, "{ __schema { types { name } } }", headers=admin)

    # Then
    assert response.status_code == 200, response.json
    assert "errors" not in response.json
    names = {t["name"] for t in response.json["data"]["__schema"]["types"]}
    assert {
        "Customer",
        "CustomerAddress",
        "CustomerCollection",
        "CustomerGroup",
        "Date",
        "FilterInput",
        "FilterOperation",
        "Country",
        "Province",
    } <= names


# --- admin endpoint authentication -----------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_admin_graphql_without_a_token_is_401(client, customer, method):
    # When
    query = f'{{ customer(id: "{customer["uuid"]}") {{ email }} }}'
    if method == "POST":
        response = post(client, query)
    else:
        response = client.get(ADMIN_GRAPHQL, query_string={"query": query})

    # Then
    assert response.status_code == 401, response.json
    assert response.json == NO_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_admin_graphql_with_a_customer_token_is_403(client, auth, customer, method):
    # Given
    headers = auth.customer_headers()
    query = f'{{ customer(id: "{customer["uuid"]}") {{ email }} }}'

    # When
    if method == "POST":
        response = post(client, query, headers=headers)
    else:
        response = client.get(ADMIN_GRAPHQL, query_string={"query": query}, headers=headers)

    # Then
    assert response.status_code == 403, response.json
    assert response.json == WRONG_TOKEN_TYPE


def test_admin_graphql_with_a_refresh_token_is_401(client, auth):
    # Given
    auth.create_admin()
    refresh = auth.admin_tokens()["refreshToken"]

    # When
    response = post(
        client, "{ customers { total } }", headers={"Authorization": f"Bearer {refresh}"}
    )

    # Then
    assert response.status_code == 401, response.json
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_admin_graphql_with_an_invalid_token_is_401(client):
    # When
    response = post(
        client, "{ customers { total } }", headers={"Authorization": "Bearer not.a.token"}
    )

    # Then
    assert response.status_code == 401, response.json
    assert response.json == BAD_TOKEN
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- the GraphQL error convention ------------------------------------------------


def test_graphql_syntax_error_is_400_with_a_located_error(client, admin):
    # When: the closing brace is missing
    response = post(client, "{ customers { total }", headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    (error,) = response.json["errors"]
    assert error["message"].startswith("Syntax Error:")
    assert error["locations"] == [{"line": 1, "column": 22}]


def test_graphql_unknown_field_is_400(client, admin):
    # When
    response = post(client, "{ customers { total nonsense } }", headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    (error,) = response.json["errors"]
    assert error["message"] == "Cannot query field 'nonsense' on type 'CustomerCollection'."
    assert error["locations"] == [{"line": 1, "column": 21}]


@pytest.mark.parametrize(
    "body",
    [None, {}, {"query": ""}, {"query": "   "}, {"query": None}, {"variables": {}}],
    ids=["no-body", "empty-object", "empty-query", "blank-query", "null-query", "only-variables"],
)
def test_graphql_without_a_query_is_400(client, admin, body):
    # When
    if body is None:
        response = client.post(ADMIN_GRAPHQL, headers=admin)
    else:
        response = client.post(ADMIN_GRAPHQL, json=body, headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert response.json == NO_QUERY


def test_graphql_get_without_a_query_is_400(client, admin):
    # When
    response = client.get(ADMIN_GRAPHQL, headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert response.json == NO_QUERY


def test_graphql_body_that_is_not_json_is_400(client, admin):
    # When
    response = client.post(
        ADMIN_GRAPHQL,
        data='{"query": ',
        headers={**admin, "Content-Type": "application/json"},
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "The request body is not valid JSON."}
    }


def test_graphql_unexpected_resolver_error_is_generic_with_the_request_id(
    client, admin, ext_client, caplog
):
    # When
    response = ext_client.post(
        ADMIN_GRAPHQL,
        json={"query": "{ loyaltyReport }"},
        headers={**admin, "X-Request-ID": "req-graphql-fault-1"},
    )

    # Then: the error says nothing of the exception, only how to report it
    assert response.status_code == 200, response.json
    assert response.json["data"] == {"loyaltyReport": None}
    (error,) = response.json["errors"]
    assert error["message"] == (
        "An unexpected error occurred. Quote request id req-graphql-fault-1 when reporting it."
    )
    assert error["path"] == ["loyaltyReport"]
    assert graphql_extension.REPORT_FAILURE not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == "req-graphql-fault-1"
    # and the operator's log has the real cause under the same request id
    logged = [r for r in caplog.records if "req-graphql-fault-1" in r.getMessage()]
    assert logged
    assert any(
        r.exc_info and str(r.exc_info[1]) == graphql_extension.REPORT_FAILURE for r in logged
    )


# --- plugins extend the schema ----------------------------------------------------


def test_register_graphql_adds_a_field_on_customer_in_the_admin_schema(ext_client, auth, admin):
    # Given
    vip = auth.create_customer(email="Queen@VIP.example", full_name="Queen Bee")
    plain = auth.create_customer(email="worker@example.com", full_name="Worker Bee")

    # When
    response = ext_client.post(
        ADMIN_GRAPHQL,
        json={
            "query": """query($vip: String, $plain: String) {
              vip: customer(id: $vip) { email loyaltyTier }
              plain: customer(id: $plain) { email loyaltyTier }
            }""",
            "variables": {"vip": vip["uuid"], "plain": plain["uuid"]},
        },
        headers=admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "vip": {"email": "Queen@vip.example", "loyaltyTier": "gold"},
            "plain": {"email": "worker@example.com", "loyaltyTier": "standard"},
        }
    }


def test_register_graphql_adds_a_field_on_customer_in_the_public_schema(ext_client, auth):
    # Given
    auth.create_customer(email="king@vip.example", full_name="King Bee")
    headers = auth.customer_headers(email="king@vip.example")

    # When
    response = ext_client.post(
        PUBLIC_GRAPHQL,
        json={"query": "{ currentCustomer { email loyaltyTier } }"},
        headers=headers,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"currentCustomer": {"email": "king@vip.example", "loyaltyTier": "gold"}}
    }


def test_plugin_query_in_the_admin_schema(ext_client, auth, admin):
    # Given
    auth.create_customer(email="one@example.com")
    auth.create_customer(email="two@example.com")

    # When
    response = ext_client.post(ADMIN_GRAPHQL, json={"query": "{ customerCount }"}, headers=admin)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customerCount": 2}}


def test_plugin_admin_query_is_not_in_the_public_schema(ext_client, auth, customer):
    """register_graphql is asked once per audience; what a plugin returns for
    "admin" stays out of the storefront's schema."""
    # Given
    headers = auth.customer_headers()

    # When
    response = ext_client.post(PUBLIC_GRAPHQL, json={"query": "{ customerCount }"}, headers=headers)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    assert response.json["errors"][0]["message"] == (
        "Cannot query field 'customerCount' on type 'Query'."
    )


def test_plugin_fields_are_absent_without_the_plugin(client, admin, customer):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { loyaltyTier } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json["errors"][0]["message"] == (
        "Cannot query field 'loyaltyTier' on type 'Customer'."
    )
