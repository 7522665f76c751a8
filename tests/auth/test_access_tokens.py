"""Authentication: the checks on every access token. A token of the right
kind signed as EverShop signs it opens the routes of its kind; a refresh
token, a token signed with another secret or algorithm, for another
audience, issuer, type or kind, expired, tampered with, or missing a claim
is refused, as is a malformed Authorization header."""

from __future__ import annotations

import time

import pytest

from tests.auth.conftest import (
    BAD_HEADER,
    DROP,
    NO_TOKEN,
    TOKEN_INVALID,
    admin_claims,
    admin_login,
    assert_401,
    b64,
    sign,
)
from tests.helpers import bearer, read_claims


def test_token_signed_by_another_program_is_accepted(app, client, kind, account):
    # Given: exactly EverShop's claims, nothing else
    token = kind.sign(app, kind.claims(account))

    # Then
    kind.assert_token_opens(client, token, account)


def test_refresh_token_used_as_access_token_is_401(client, auth, kind, account):
    # Given
    refresh_token = kind.tokens(auth)["refreshToken"]

    # When
    response = client.get(kind.own_route, headers=bearer(refresh_token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_admin_token_signed_with_the_customer_secret_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin), app.config["JWT_CUSTOMER_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_admin_token_signed_with_the_admin_refresh_secret_is_401(app, client, admin):
    # Given: an access token signed with the secret of refresh tokens
    token = sign(admin_claims(admin), app.config["JWT_ADMIN_REFRESH_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_admin_token_with_customer_audience_is_401(app, client, admin):
    # Given: the right secret, the wrong audience
    token = sign(admin_claims(admin, aud="customer"), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_admin_token_without_audience_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin, aud=DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


@pytest.mark.parametrize(
    "changes",
    [
        {"tokenType": DROP},
        {"tokenType": "superadmin"},
        {"tokenKind": DROP},
        {"tokenKind": "identity"},
    ],
    ids=["tokenType-missing", "tokenType-unknown", "tokenKind-missing", "tokenKind-unknown"],
)
def test_admin_token_with_missing_or_unknown_type_or_kind_is_401(app, client, admin, changes):
    # Given
    token = sign(admin_claims(admin, **changes), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_admin_token_from_another_issuer_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin, iss="another-shop"), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_expired_admin_access_token_is_401(app, client, admin):
    # Given
    past = int(time.time()) - 60
    token = sign(admin_claims(admin, iat=past - 900, exp=past), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_unsigned_alg_none_token_is_401(client, admin):
    # Given: a token that claims no signature is needed
    header = b64({"alg": "none", "typ": "JWT"})
    token = f"{header}.{b64(admin_claims(admin))}."

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_hs512_token_with_the_right_secret_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin), app.config["JWT_ADMIN_SECRET"], algorithm="HS512")

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_token_with_a_tampered_payload_is_401(client, admin):
    # Given: one character of the payload segment changed after signing
    token = admin_login(client).json["data"]["accessToken"]
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    replacement = "A" if payload[middle] != "A" else "B"
    tampered = f"{header}.{payload[:middle]}{replacement}{payload[middle + 1 :]}.{signature}"
    assert client.get("/api/customers", headers=bearer(token)).status_code == 200

    # When
    response = client.get("/api/customers", headers=bearer(tampered))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_token_with_a_rewritten_payload_is_401(client, auth, customer):
    # Given: a customer's token whose payload is replaced by an admin's claims,
    # keeping the customer's signature
    admin = read_claims(auth.admin_tokens()["accessToken"])["user"]
    header, _, signature = auth.customer_tokens()["accessToken"].split(".")
    forged = f"{header}.{b64(admin_claims(admin))}.{signature}"

    # When
    response = client.get("/api/customers", headers=bearer(forged))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_token_without_exp_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin, exp=DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


def test_token_without_iat_is_401(app, client, admin):
    # Given
    token = sign(admin_claims(admin, iat=DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=bearer(token))

    # Then
    assert_401(response, TOKEN_INVALID)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", BAD_HEADER),
        ("Bearer ", BAD_HEADER),
        ("Basic abc", BAD_HEADER),
        ("Token xyz", BAD_HEADER),
        ("Bearer a.b", TOKEN_INVALID),
        ("Bearer a.b.c", TOKEN_INVALID),
    ],
)
def test_malformed_authorization_header_is_401(client, admin, header, message):
    # When
    response = client.get("/api/customers", headers={"Authorization": header})

    # Then
    assert_401(response, message)


def test_admin_route_without_token_is_401(client, admin):
    # When
    response = client.get("/api/customers")

    # Then
    assert_401(response, NO_TOKEN)
