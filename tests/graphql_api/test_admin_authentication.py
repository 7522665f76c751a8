"""GraphQL: the admin endpoint refuses a request without a token, with a
customer's token, a refresh token or an invalid one."""

from __future__ import annotations

import pytest

from tests.graphql_api.conftest import (
    ADMIN_GRAPHQL,
    BAD_TOKEN,
    NO_TOKEN,
    WRONG_TOKEN_TYPE,
    post,
)

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
