"""GraphQL: plugins extend the schema (``register_graphql``): fields on
``Customer`` in both schemas and queries of their own in the admin one."""

from __future__ import annotations

from tests.graphql_api.conftest import (
    ADMIN_GRAPHQL,
    PUBLIC_GRAPHQL,
    post,
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
