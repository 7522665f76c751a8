"""Authentication: logging in (``POST /api/user/tokens`` for admins,
``POST /api/customer/tokens`` for customers) gives EverShop-format tokens
signed with the kind's own secrets, and is refused with one message whatever
is wrong; neither the answer nor the tokens carry the password hash."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.auth.conftest import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_EMAIL,
    CUSTOMER_PASSWORD,
    INVALID_LOGIN,
    MISSING,
    NOT_A_STRING,
    NULL,
    assert_credentials_401,
    customer_login,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import assert_field_error, read_claims


def test_login_returns_access_and_refresh_tokens(client, kind, account):
    # When
    response = kind.login(client)

    # Then
    assert response.status_code == 200
    assert set(response.json) == {"data"}
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}
    assert all(isinstance(token, str) for token in response.json["data"].values())


def test_access_token_carries_evershop_claims(client, kind, account):
    # When
    token = kind.login(client).json["data"]["accessToken"]

    # Then
    claims = read_claims(token)
    assert claims[kind.claim] == {name: account[name] for name in kind.identity}
    assert {name: claims[kind.claim][name] for name in kind.known_identity} == kind.known_identity
    assert claims["tokenType"] == kind.name
    assert claims["tokenKind"] == "access"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == kind.name
    assert claims["exp"] - claims["iat"] == kind.access_lifetime
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_refresh_token_carries_evershop_claims(client, kind, account):
    # When
    token = kind.login(client).json["data"]["refreshToken"]

    # Then
    claims = read_claims(token)
    assert claims[kind.claim] == {name: account[name] for name in kind.identity}
    assert claims["tokenType"] == kind.name
    assert claims["tokenKind"] == "refresh"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == kind.name
    assert claims["exp"] - claims["iat"] == kind.refresh_lifetime
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_tokens_are_signed_with_the_secrets_of_their_kind(app, client, kind, account):
    # When
    data = kind.login(client).json["data"]

    # Then: each verifies with its own secret, audience and issuer
    access = jwt.decode(
        data["accessToken"],
        app.config[kind.secret],
        algorithms=["HS256"],
        audience=kind.name,
        issuer="evershop",
    )
    refresh = jwt.decode(
        data["refreshToken"],
        app.config[kind.refresh_secret],
        algorithms=["HS256"],
        audience=kind.name,
        issuer="evershop",
    )
    assert (access["tokenKind"], refresh["tokenKind"]) == ("access", "refresh")


def test_login_matches_email_case_insensitively(client, kind, account):
    # When
    response = kind.login(client, email=kind.email_in_other_case)

    # Then
    assert response.status_code == 200
    assert read_claims(response.json["data"]["accessToken"])[kind.claim]["email"] == kind.email


@pytest.mark.parametrize(
    ("kind", "body", "field", "message"),
    [
        pytest.param(
            ADMIN, {"password": ADMIN_PASSWORD}, "email", MISSING, id="admin-missing-email"
        ),
        pytest.param(
            ADMIN, {"email": ADMIN_EMAIL}, "password", MISSING, id="admin-missing-password"
        ),
        pytest.param(
            ADMIN,
            {"email": 42, "password": ADMIN_PASSWORD},
            "email",
            NOT_A_STRING,
            id="admin-email-number",
        ),
        pytest.param(
            ADMIN,
            {"email": ADMIN_EMAIL, "password": ["admin-password-1"]},
            "password",
            NOT_A_STRING,
            id="admin-password-list",
        ),
        pytest.param(
            ADMIN, {"email": None, "password": ADMIN_PASSWORD}, "email", NULL, id="admin-email-null"
        ),
        pytest.param(
            CUSTOMER, {"password": CUSTOMER_PASSWORD}, "email", MISSING, id="customer-missing-email"
        ),
        pytest.param(
            CUSTOMER, {"email": CUSTOMER_EMAIL}, "password", MISSING, id="customer-missing-password"
        ),
        pytest.param(
            CUSTOMER,
            {"email": 42, "password": CUSTOMER_PASSWORD},
            "email",
            NOT_A_STRING,
            id="customer-email-number",
        ),
        pytest.param(
            CUSTOMER,
            {"email": CUSTOMER_EMAIL, "password": 12345678},
            "password",
            NOT_A_STRING,
            id="customer-password-number",
        ),
        pytest.param(
            CUSTOMER,
            {"email": CUSTOMER_EMAIL, "password": None},
            "password",
            NULL,
            id="customer-password-null",
        ),
    ],
)
def test_login_with_missing_or_mistyped_field_is_400_naming_it(
    client, kind, account, body, field, message
):
    # When
    response = client.post(kind.login_path, json=body)

    # Then
    assert_field_error(response, field, message)


def test_login_with_wrong_password_is_401(client, kind, account):
    # When
    response = kind.login(client, password="not-the-password")

    # Then
    assert_credentials_401(response, INVALID_LOGIN)


def test_login_with_unknown_email_is_401(client, kind, account):
    # When
    response = kind.login(client, email="nobody@example.com")

    # Then
    assert_credentials_401(response, INVALID_LOGIN)


def test_customer_login_with_an_admin_account_is_401(client, customer):
    # When: the admin's credentials are not a customer's
    response = customer_login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)

    # Then
    assert_credentials_401(response, INVALID_LOGIN)


def test_disabled_account_cannot_log_in(client, auth, kind, account):
    # Given
    kind.disable(auth, account)

    # When
    response = kind.login(client)

    # Then
    assert_credentials_401(response, INVALID_LOGIN)


def test_token_response_and_claims_never_carry_the_password_hash(app, client, kind, account):
    # Given
    password_hash = kind.password_hash(app, account)

    # When
    login = kind.login(client)
    refreshed = client.post(
        kind.refresh_path, json={"refreshToken": login.json["data"]["refreshToken"]}
    )

    # Then
    for response in (login, refreshed):
        assert password_hash not in response.get_data(as_text=True)
        for token in response.json["data"].values():
            claims = read_claims(token)
            assert password_hash not in json.dumps(claims)
            assert "password" not in claims[kind.claim]
            assert "password" not in claims
