"""Authentication: tokens whose account goes away (deleted or disabled) or
whose customer's password changes stop working at once."""

from __future__ import annotations

import time

from tests.auth.conftest import (
    ACCOUNT_GONE,
    CUSTOMER_REFRESH_GONE,
    INVALID_LOGIN,
    admin_claims,
    assert_401,
    assert_credentials_401,
    customer_claims,
    customer_login,
    sign,
)
from tests.helpers import bearer

# --- accounts that go away --------------------------------------------------------


def test_deleted_account_tokens_stop_working_at_once(client, auth, kind, account):
    # Given
    token = kind.tokens(auth)["accessToken"]
    kind.assert_token_opens(client, token, account)

    # When
    kind.delete(auth, account)

    # Then
    assert_401(client.get(kind.own_route, headers=bearer(token)), ACCOUNT_GONE)


def test_disabled_account_tokens_stop_working_at_once(client, auth, kind, account):
    # Given
    token = kind.tokens(auth)["accessToken"]
    kind.assert_token_opens(client, token, account)

    # When
    kind.disable(auth, account)

    # Then
    assert_401(client.get(kind.own_route, headers=bearer(token)), ACCOUNT_GONE)


def test_token_naming_another_uuid_for_the_same_id_is_401(app, client, admin):
    # Given: the admin's id with a uuid that is not the admin's
    identity = {**admin, "uuid": "00000000-0000-4000-8000-000000000000"}
    token = sign(admin_claims(identity), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, ACCOUNT_GONE)


# --- a customer's password changes ------------------------------------------------


def _tokens_issued_ten_seconds_ago(app, customer: dict) -> tuple[str, str]:
    """An access and a refresh token as EverShop would have issued them 10 s ago
    (iat has a one-second resolution, so an earlier second is needed)."""
    iat = int(time.time()) - 10
    access = sign(
        customer_claims(customer, iat=iat, exp=iat + 1800), app.config["JWT_CUSTOMER_SECRET"]
    )
    refresh = sign(
        customer_claims(customer, "refresh", iat=iat, exp=iat + 108000),
        app.config["JWT_CUSTOMER_REFRESH_SECRET"],
    )
    return access, refresh


def _change_password(client, auth, customer: dict, password: str) -> None:
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"password": password},
        headers=auth.admin_headers(),
    )
    assert response.status_code == 200, response.json


def test_access_token_issued_before_password_change_is_401(app, client, auth, customer):
    # Given
    access, _ = _tokens_issued_ten_seconds_ago(app, customer)
    assert client.get("/api/customers/me", headers=bearer(access)).status_code == 200

    # When
    _change_password(client, auth, customer, "brand-new-pass-2")

    # Then
    assert_401(client.get("/api/customers/me", headers=bearer(access)), ACCOUNT_GONE)


def test_refresh_token_issued_before_password_change_is_401(app, client, auth, customer):
    # Given
    _, refresh = _tokens_issued_ten_seconds_ago(app, customer)

    # When
    _change_password(client, auth, customer, "brand-new-pass-2")

    # Then
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    assert_credentials_401(response, CUSTOMER_REFRESH_GONE)


def test_login_after_password_change_works_with_the_new_password_only(client, auth, customer):
    # Given
    _change_password(client, auth, customer, "brand-new-pass-2")

    # When
    old = customer_login(client)
    new = customer_login(client, password="brand-new-pass-2")

    # Then
    assert_credentials_401(old, INVALID_LOGIN)
    assert new.status_code == 200
    data = new.json["data"]
    me = client.get("/api/customers/me", headers=bearer(data["accessToken"]))
    assert me.status_code == 200
    refreshed = client.post(
        "/api/customer/token/refresh", json={"refreshToken": data["refreshToken"]}
    )
    assert refreshed.status_code == 200
