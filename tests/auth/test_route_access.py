"""Authentication: who may call which route. A customer's token is refused
on the admin-only routes, a route that needs a token refuses a request
without one, and a bad Authorization header is refused on the public routes
too, before anything is written."""

from __future__ import annotations

import time

import pytest

from tests.auth.conftest import (
    BAD_HEADER,
    CUSTOMER_EMAIL,
    CUSTOMER_PASSWORD,
    NO_TOKEN,
    TOKEN_INVALID,
    WRONG_TOKEN_TYPE,
    assert_401,
    customer_claims,
    customer_count,
    sign,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import bearer

# --- a customer token on admin-only routes ----------------------------------------


def test_customer_token_on_customer_list_is_403(client, auth, customer):
    # When
    response = client.get("/api/customers", headers=auth.customer_headers())

    # Then
    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": WRONG_TOKEN_TYPE}}


def test_customer_token_cannot_update_a_customer(client, auth, customer, events):
    # Given
    before = events()

    # When: even its own account, through the admin route
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "Changed", "status": 1},
        headers=auth.customer_headers(),
    )

    # Then
    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": WRONG_TOKEN_TYPE}}
    shown = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert shown.json["data"]["full_name"] == "John Smith"
    assert shown.json["data"]["updated_at"] == customer["updated_at"]
    assert events() == before


def test_customer_token_cannot_delete_a_customer(app, client, auth, customer, events):
    # Given
    before = events()

    # When
    response = client.delete(f"/api/customers/{customer['uuid']}", headers=auth.customer_headers())

    # Then
    assert response.status_code == 403
    assert response.json == {"error": {"status": 403, "message": WRONG_TOKEN_TYPE}}
    assert customer_count(app) == 1
    assert events() == before


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_admin_customer_routes_without_token_are_401(app, client, customer, events, method):
    # Given
    before = events()

    # When
    response = getattr(client, method)(
        f"/api/customers/{customer['uuid']}", json={"full_name": "Changed"}
    )

    # Then
    assert_401(response, NO_TOKEN)
    assert customer_count(app) == 1
    assert events() == before


# --- an invalid header on a public route ------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer not-a-jwt", TOKEN_INVALID),
        ("Bearer", BAD_HEADER),
        ("Basic dXNlcjpwYXNz", BAD_HEADER),
    ],
)
def test_invalid_authorization_on_sign_up_is_401_and_creates_nothing(
    app, client, events, header, message
):
    # When
    response = client.post(
        "/api/customers",
        json={"email": "new@example.com", "password": "new-password-1", "full_name": "New"},
        headers={"Authorization": header},
    )

    # Then
    assert_401(response, message)
    assert customer_count(app) == 0
    assert events() == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer not-a-jwt", TOKEN_INVALID),
        ("Bearer", BAD_HEADER),
        ("Basic dXNlcjpwYXNz", BAD_HEADER),
    ],
)
def test_invalid_authorization_on_reset_password_is_401_and_records_nothing(
    client, customer, events, header, message
):
    # Given
    before = events()

    # When
    response = client.post(
        "/api/customers/reset-password",
        json={"email": CUSTOMER_EMAIL},
        headers={"Authorization": header},
    )

    # Then: no reset request is recorded, so no email will go
    assert_401(response, message)
    assert events() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/user/tokens",
        "/api/customer/tokens",
        "/api/user/token/refresh",
        "/api/customer/token/refresh",
        "/api/customers/password",
        "/api/graphql",
    ],
)
def test_invalid_authorization_on_every_public_route_is_401(client, auth, customer, path):
    # Given a body that the route would accept: right credentials, live refresh tokens
    bodies = {
        "/api/user/tokens": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        "/api/customer/tokens": {"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD},
        "/api/user/token/refresh": {"refreshToken": auth.admin_tokens()["refreshToken"]},
        "/api/customer/token/refresh": {"refreshToken": auth.customer_tokens()["refreshToken"]},
        "/api/customers/password": {"token": "unknown", "password": "new-password-1"},
        "/api/graphql": {"query": "{ __typename }"},
    }

    # When it comes with a bad Authorization header
    response = client.post(path, json=bodies[path], headers={"Authorization": "Bearer not-a-jwt"})

    # Then the header decides
    assert_401(response, TOKEN_INVALID)


def test_invalid_authorization_on_the_openapi_document_is_401(client):
    # When
    response = client.get("/api/openapi.json", headers={"Authorization": "Bearer not-a-jwt"})

    # Then
    assert_401(response, TOKEN_INVALID)


def test_valid_token_on_reset_password_is_accepted(client, auth, customer, events):
    # When: a signed-in customer asks for a reset
    response = client.post(
        "/api/customers/reset-password",
        json={"email": CUSTOMER_EMAIL},
        headers=auth.customer_headers(),
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"success": True}}
    assert [name for name, _ in events()][-1] == "reset_password_submitted"


def test_unknown_api_route_is_404_whatever_the_authorization_header(client):
    # When
    response = client.get("/api/nothing-here", headers={"Authorization": "Bearer not-a-jwt"})

    # Then
    assert response.status_code == 404
    assert response.json == {
        "error": {"status": 404, "message": "No resource lives at this address."}
    }
    assert "WWW-Authenticate" not in response.headers


def test_expired_token_on_sign_up_is_401_and_creates_nothing(app, client, customer, events):
    # Given
    past = int(time.time()) - 60
    expired = sign(
        customer_claims(customer, iat=past - 1800, exp=past), app.config["JWT_CUSTOMER_SECRET"]
    )
    before = events()

    # When
    response = client.post(
        "/api/customers",
        json={"email": "new@example.com", "password": "new-password-1", "full_name": "New"},
        headers=bearer(expired),
    )

    # Then
    assert_401(response, TOKEN_INVALID)
    assert customer_count(app) == 1
    assert events() == before
