"""GraphQL: the admin endpoint's ``customers(filters:)``: matching, paging at a
constant number of statements, and a bad filter."""

from __future__ import annotations

from tests.graphql_api.conftest import (
    add_address,
    add_group,
    post,
    seed_customers,
)
from tests.helpers import count_statements

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
    # Given: 51 customers in two groups, with two addresses each, so that
    # another page follows both pages asked for (each needs its total counted)
    wholesale = add_group(app, "Wholesale")
    seed_customers(app, count=51, addresses_each=2, group_ids=(1, wholesale["customerGroupId"]))
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
