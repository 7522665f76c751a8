"""CORS for the storefront origins named in ``CORS_ORIGINS``: preflights,
the headers of a real request, origins not in the list, none at all by
default; a preflight needs no token and spends no rate limit."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Auth

SHOP = "https://shop.example"
OTHER_ORIGIN = "https://evil.example"
CUSTOMERS = "/api/customers"


def preflight(client, path=CUSTOMERS, origin=SHOP, method="POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )


def listed(response, header: str) -> set[str]:
    """The comma-separated values of a header, in lower case."""
    return {item.strip().lower() for item in response.headers.get(header, "").split(",") if item}


def cors_headers(response) -> list[str]:
    names = [name for name, _ in response.headers.items()]
    return [name for name in names if name.lower().startswith("access-control-")]


@pytest.fixture
def cors_app(make_app):
    return make_app(CORS_ORIGINS=[SHOP])


@pytest.fixture
def cors_client(cors_app):
    return cors_app.test_client()


def test_preflight_from_an_allowed_origin_allows_it(cors_client):
    response = preflight(cors_client)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert {"post", "patch"} <= listed(response, "Access-Control-Allow-Methods")
    assert {"authorization", "content-type"} <= listed(response, "Access-Control-Allow-Headers")


def test_preflight_allows_every_method_of_the_api(cors_client):
    response = preflight(cors_client, path=f"{CUSTOMERS}/{uuid.uuid4()}", method="DELETE")

    assert response.status_code == 200
    assert {"get", "post", "patch", "delete"} <= listed(response, "Access-Control-Allow-Methods")


def test_preflight_needs_no_token(cors_client):
    # A preflight never carries credentials, even to an admin-only route
    response = preflight(cors_client, path=f"{CUSTOMERS}/{uuid.uuid4()}", method="PATCH")

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "WWW-Authenticate" not in response.headers


def test_real_request_from_an_allowed_origin_carries_allow_origin_and_exposes_headers(
    cors_app, cors_client
):
    # Given an admin
    headers = Auth(cors_app, cors_client).admin_headers()

    # When the storefront's origin lists the customers
    response = cors_client.get(CUSTOMERS, headers={**headers, "Origin": SHOP})

    # Then
    assert response.status_code == 200, response.json
    assert response.json["data"]["total"] == 0
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert {"x-request-id", "location"} <= listed(response, "Access-Control-Expose-Headers")


def test_error_answer_to_an_allowed_origin_carries_allow_origin(cors_client):
    # A browser can only read the error envelope if the error carries the header too
    response = cors_client.get(CUSTOMERS, headers={"Origin": SHOP})

    assert response.status_code == 401
    assert response.json == {
        "error": {
            "status": 401,
            "message": "Authentication is required: send a valid Bearer token.",
        }
    }
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


def test_create_from_an_allowed_origin_exposes_location(cors_app, cors_client):
    # Given
    headers = Auth(cors_app, cors_client).admin_headers()
    body = {"email": "john.smith@example.com", "password": "customer-pass-1", "full_name": "J S"}

    # When
    response = cors_client.post(CUSTOMERS, json=body, headers={**headers, "Origin": SHOP})

    # Then
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == f"{CUSTOMERS}/{response.json['data']['uuid']}"
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "location" in listed(response, "Access-Control-Expose-Headers")


def test_preflight_from_an_origin_not_in_the_list_is_not_allowed(cors_client):
    response = preflight(cors_client, origin=OTHER_ORIGIN)

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


def test_real_request_from_an_origin_not_in_the_list_gets_no_allow_origin(cors_client):
    response = cors_client.get(CUSTOMERS, headers={"Origin": OTHER_ORIGIN})

    assert response.status_code == 401
    assert "Access-Control-Allow-Origin" not in response.headers


def test_origin_is_matched_exactly_not_by_prefix(cors_client):
    for origin in ("https://shop.example.evil.example", "http://shop.example", SHOP + ":8443"):
        response = preflight(cors_client, origin=origin)

        assert "Access-Control-Allow-Origin" not in response.headers, origin


def test_without_cors_origins_no_cors_headers_are_sent(app, client, auth):
    # Given the default: no CORS_ORIGINS
    assert app.config["CORS_ORIGINS"] == []
    headers = auth.admin_headers()

    # When a browser on the storefront preflights and then calls
    before = preflight(client)
    response = client.get(CUSTOMERS, headers={**headers, "Origin": SHOP})

    # Then neither answer carries any CORS header
    assert cors_headers(before) == []
    assert response.status_code == 200, response.json
    assert cors_headers(response) == []


def test_preflight_is_not_counted_against_the_rate_limits(make_app):
    # Given two token requests a minute (counted in this app's own memory)
    app = make_app(
        CORS_ORIGINS=[SHOP],
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_TOKENS="2/minute",
    )
    client = app.test_client()

    # When the browser preflights the token endpoint five times
    preflights = [preflight(client, path="/api/customer/tokens") for _ in range(5)]

    # Then every preflight is allowed, carries no rate limit, and the budget is whole
    for response in preflights:
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert "RateLimit-Remaining" not in response.headers
    body = {"refreshToken": "not-a-token"}
    first = client.post("/api/customer/token/refresh", json=body, headers={"Origin": SHOP})
    assert first.status_code == 401, first.json
    assert first.headers["RateLimit-Remaining"] == "1"
    assert "ratelimit-remaining" in listed(first, "Access-Control-Expose-Headers")
