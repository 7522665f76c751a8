"""GraphQL: the storefront endpoint (``currentCustomer``): who a token is,
refused tokens, no admin queries and no introspection."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.graphql_api.conftest import (
    ACCOUNT_GONE,
    BAD_TOKEN,
    CURRENT_CUSTOMER,
    CUSTOMER_BY_ID,
    PUBLIC_GRAPHQL,
    UNKNOWN_UUID,
    add_address,
    expired_customer_token,
    post,
)

# --- the storefront endpoint ---------------------------------------------------


def assert_own_date(shown: dict, timestamp: str) -> None:
    """The storefront's ``Date`` of ``currentCustomer.createdAt``: EverShop's
    storefront gives the value in ISO 8601 with milliseconds."""
    moment = datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", shown["value"])
    assert shown["value"][:19] == f"{moment:%Y-%m-%dT%H:%M:%S}"
    assert shown["text"] == f"{moment:%b} {moment.day}, {moment.year}"


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
