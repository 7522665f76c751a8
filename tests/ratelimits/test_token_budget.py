"""Rate limits: the four token endpoints share one budget per client address,
and limited routes carry the RateLimit-* headers."""

from __future__ import annotations

import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
)
from tests.ratelimits.conftest import (
    ADMIN_REFRESH,
    CUSTOMER_REFRESH,
    CUSTOMER_TOKENS,
    TOKEN_INVALID,
    TOKENS,
    admin_login,
    assert_limit_headers,
    assert_no_limit_headers,
    assert_too_many,
    bogus_refresh,
    customer_login,
    setup_auth,
)

# --- token endpoints: one budget per client address ---------------------------------


def test_the_four_token_endpoints_share_one_budget_per_client_address(limited):
    # Given a budget of 3 token requests a minute, and accounts made elsewhere
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup = setup_auth(app)
    setup.create_customer()  # and the admin who creates it
    client = app.test_client()

    # When one client calls each of the four token endpoints in turn
    admin = admin_login(client)
    customer = customer_login(client)
    admin_refresh = client.post(
        ADMIN_REFRESH, json={"refreshToken": admin.json["data"]["refreshToken"]}
    )
    customer_refresh = client.post(
        CUSTOMER_REFRESH, json={"refreshToken": customer.json["data"]["refreshToken"]}
    )

    # Then the first three are answered and the fourth is refused
    assert [admin.status_code, customer.status_code, admin_refresh.status_code] == [200, 200, 200]
    assert_too_many(customer_refresh)
    assert "accessToken" not in customer_refresh.get_data(as_text=True)


@pytest.mark.parametrize("path", [TOKENS, ADMIN_REFRESH, CUSTOMER_TOKENS, CUSTOMER_REFRESH])
def test_each_token_endpoint_is_refused_once_the_budget_is_spent_on_another(limited, path):
    # Given a client that spent its 3 token requests on the customer refresh
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()
    for _ in range(3):
        assert bogus_refresh(client).status_code == 401

    # When it calls a token endpoint
    response = client.post(path, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    # Then it is refused before its body is even read
    assert_too_many(response)


def test_token_request_over_the_limit_is_429_with_retry_after_and_ratelimit_headers(limited):
    # Given a client that spent its 3 token requests
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()
    for _ in range(3):
        bogus_refresh(client)

    # When it asks a fourth time
    response = bogus_refresh(client)

    # Then
    assert_too_many(response)
    assert response.mimetype == "application/json"
    assert_limit_headers(response, limit=3, remaining=0)


def test_allowed_token_requests_count_down_ratelimit_remaining_without_retry_after(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()

    # When
    responses = [bogus_refresh(client) for _ in range(3)]

    # Then
    for remaining, response in zip([2, 1, 0], responses, strict=True):
        assert response.status_code == 401, response.json
        assert response.json == TOKEN_INVALID
        assert_limit_headers(response, limit=3, remaining=remaining)
        assert "Retry-After" not in response.headers


def test_successful_login_carries_ratelimit_headers(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup_auth(app).create_admin()
    client = app.test_client()

    # When
    response = admin_login(client)

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}
    assert_limit_headers(response, limit=3, remaining=2)
    assert "Retry-After" not in response.headers


def test_token_budget_of_one_address_leaves_another_address_its_own(limited):
    # Given one address that spent its budget
    app = limited(RATELIMIT_TOKENS="3/minute")
    spent = app.test_client()
    for _ in range(3):
        bogus_refresh(spent)
    assert_too_many(bogus_refresh(spent))
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.20"

    # When another address asks
    response = bogus_refresh(other)

    # Then it has a full budget of its own
    assert response.status_code == 401, response.json
    assert_limit_headers(response, limit=3, remaining=2)


def test_routes_without_a_limit_carry_no_ratelimit_headers(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup = setup_auth(app)
    setup.create_customer()
    headers = setup.customer_headers()
    client = app.test_client()

    # When
    response = client.get("/api/customers/me", headers=headers)

    # Then
    assert response.status_code == 200, response.json
    assert_no_limit_headers(response)
