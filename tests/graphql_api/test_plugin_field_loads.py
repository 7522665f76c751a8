"""GraphQL loads a plugin field (one with its own ``load``, such as the
verification plugin's ``emailVerified``) only when the query names it
(docs/plugins.md, "Fields")."""

from __future__ import annotations

import pytest

from tests.graphql_api.conftest import post
from tests.helpers import count_statements

VERIFICATION_TABLE = "customer_email_verification"


def reads_verification(statements: list[str]) -> bool:
    return any(VERIFICATION_TABLE in sql for sql in statements)


def test_a_query_without_plugin_fields_does_not_load_them(app, client, admin, customer):
    query = f'{{ customer(id: "{customer["uuid"]}") {{ uuid email }} }}'

    response, statements = count_statements(app, lambda: post(client, query, headers=admin))

    assert response.status_code == 200, response.json
    assert response.json["data"]["customer"]["email"] == customer["email"]
    assert statements
    assert not reads_verification(statements), statements


@pytest.mark.parametrize(
    "selection",
    [
        "{ uuid emailVerified pendingEmail }",
        "{ uuid ...verification }",
        "{ uuid ... on Customer { emailVerified pendingEmail } }",
    ],
    ids=["field", "fragment", "inline fragment"],
)
def test_a_query_naming_a_plugin_field_gets_its_value(app, client, admin, customer, selection):
    query = f'{{ customer(id: "{customer["uuid"]}") {selection} }}'
    if "...verification" in selection:
        query += " fragment verification on Customer { emailVerified pendingEmail }"

    response, statements = count_statements(app, lambda: post(client, query, headers=admin))

    assert response.status_code == 200, response.json
    found = response.json["data"]["customer"]
    assert (found["emailVerified"], found["pendingEmail"]) == (False, None)
    assert reads_verification(statements), statements


def test_a_page_of_customers_loads_a_named_plugin_field_once(app, client, admin, auth):
    for n in range(3):
        auth.create_customer(email=f"c{n}@example.com")
    query = "{ customers { items { email emailVerified } } }"

    response, statements = count_statements(app, lambda: post(client, query, headers=admin))

    assert response.status_code == 200, response.json
    items = response.json["data"]["customers"]["items"]
    assert [item["emailVerified"] for item in items] == [False, False, False]
    assert len([sql for sql in statements if VERIFICATION_TABLE in sql]) == 1, statements


def test_the_storefront_loads_a_plugin_field_only_when_named(app, client, auth):
    made = auth.create_customer(email="shopper@example.com", password="shopper-pass-1")
    tokens = client.post(
        "/api/customer/tokens", json={"email": made["email"], "password": "shopper-pass-1"}
    )
    assert tokens.status_code == 200, tokens.json
    headers = {"Authorization": f"Bearer {tokens.json['data']['accessToken']}"}

    plain, plain_statements = count_statements(
        app,
        lambda: post(client, "{ currentCustomer { email } }", headers=headers, path="/api/graphql"),
    )
    named, named_statements = count_statements(
        app,
        lambda: post(
            client, "{ currentCustomer { emailVerified } }", headers=headers, path="/api/graphql"
        ),
    )

    assert plain.json == {"data": {"currentCustomer": {"email": "shopper@example.com"}}}
    assert named.json == {"data": {"currentCustomer": {"emailVerified": False}}}
    assert not reads_verification(plain_statements), plain_statements
    assert reads_verification(named_statements), named_statements
