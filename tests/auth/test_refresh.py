"""Authentication: refreshing (``POST /api/user/token/refresh`` for admins,
``POST /api/customer/token/refresh`` for customers) gives a new access token
for a live refresh token of the same kind, EverShop's own included, and
refuses every other."""

from __future__ import annotations

import time

from tests.auth.conftest import (
    MISSING,
    OTHER,
    TOKEN_INVALID,
    assert_credentials_401,
)
from tests.helpers import assert_field_error, read_claims


def test_refresh_gives_a_working_access_token(client, auth, kind, account):
    # Given
    refresh_token = kind.tokens(auth)["refreshToken"]

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": refresh_token})

    # Then
    assert response.status_code == 200
    assert set(response.json["data"]) == {"accessToken"}
    access_token = response.json["data"]["accessToken"]
    claims = read_claims(access_token)
    assert (claims["tokenType"], claims["tokenKind"], claims["aud"]) == (
        kind.name,
        "access",
        kind.name,
    )
    assert claims["exp"] - claims["iat"] == kind.access_lifetime
    kind.assert_token_opens(client, access_token, account)


def test_refresh_without_refresh_token_is_400(client, kind, account):
    # When
    response = client.post(kind.refresh_path, json={})

    # Then
    assert_field_error(response, "refreshToken", MISSING)


def test_refresh_with_garbage_is_401(client, kind, account):
    # When
    response = client.post(kind.refresh_path, json={"refreshToken": "not-a-jwt"})

    # Then
    assert_credentials_401(response, TOKEN_INVALID)


def test_refresh_with_an_access_token_is_401(client, auth, kind, account):
    # Given
    access_token = kind.tokens(auth)["accessToken"]

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": access_token})

    # Then
    assert_credentials_401(response, TOKEN_INVALID)


def test_refresh_with_an_expired_refresh_token_is_401(app, client, kind, account):
    # Given
    past = int(time.time()) - 60
    claims = kind.claims(account, "refresh", iat=past - kind.refresh_lifetime, exp=past)
    expired = kind.sign(app, claims, refresh=True)

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": expired})

    # Then
    assert_credentials_401(response, TOKEN_INVALID)


def test_refresh_with_a_refresh_token_of_the_other_kind_is_401(client, auth, kind, customer):
    # Given: the other kind's refresh token (an admin and a customer both exist)
    refresh_token = OTHER[kind].tokens(auth)["refreshToken"]

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": refresh_token})

    # Then
    assert_credentials_401(response, TOKEN_INVALID)


def test_refresh_for_a_deleted_account_is_401(client, auth, kind, account):
    # Given
    refresh_token = kind.tokens(auth)["refreshToken"]
    kind.delete(auth, account)

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": refresh_token})

    # Then
    assert_credentials_401(response, kind.refresh_gone)


def test_refresh_for_a_disabled_account_is_401(client, auth, kind, account):
    # Given
    refresh_token = kind.tokens(auth)["refreshToken"]
    kind.disable(auth, account)

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": refresh_token})

    # Then
    assert_credentials_401(response, kind.refresh_gone)


def test_refresh_token_signed_by_another_program_is_accepted(app, client, kind, account):
    # Given: exactly EverShop's claims, nothing else
    token = kind.sign(app, kind.claims(account, "refresh"), refresh=True)

    # When
    response = client.post(kind.refresh_path, json={"refreshToken": token})

    # Then
    assert response.status_code == 200
    assert read_claims(response.json["data"]["accessToken"])[kind.claim]["uuid"] == account["uuid"]
