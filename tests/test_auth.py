"""Authentication (docs/api.md, "Authentication"): EverShop-format JWTs for admins and customers,
the token endpoints, the checks on every authenticated request, and
``flask user create``."""

from __future__ import annotations

import base64
import json
import time
import warnings

import jwt
import pytest
import sqlalchemy as sa

from app.auth.models import AdminUser
from app.db import db
from plugins.customer.models import Customer
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

CUSTOMER_EMAIL = "john.smith@example.com"
CUSTOMER_PASSWORD = "customer-pass-1"

INVALID_LOGIN = "Invalid email or password"
TOKEN_INVALID = "The token is invalid or expired."
BAD_HEADER = "The Authorization header must read 'Bearer <token>'."
NO_TOKEN = "Authentication is required: send a valid Bearer token."
ACCOUNT_GONE = "The token's account no longer exists, is disabled, or its token was revoked."
ADMIN_REFRESH_GONE = "The token's account no longer exists or is disabled."
CUSTOMER_REFRESH_GONE = "The token's account no longer exists, is disabled, or was revoked."
WRONG_TOKEN_TYPE = "This token does not grant access to this resource."
MISSING = "Missing data for required field."
NOT_A_STRING = "Not a valid string."
NULL = "Field may not be null."

ADMIN_IDENTITY = ("admin_user_id", "uuid", "email", "full_name", "status")
CUSTOMER_IDENTITY = ("customer_id", "uuid", "email", "full_name", "status", "group_id")

_DROP = object()  # a claim to leave out of a hand-made token


# --- helpers -------------------------------------------------------------------


def _claims(token: str) -> dict:
    """A token's claims, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def _sign(claims: dict, secret: str, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about key length for HS512
        return jwt.encode(claims, secret, algorithm=algorithm)


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _evershop_claims(
    claim: str, identity: dict, token_type: str, kind: str, lifetime: int, **changes
) -> dict:
    """Exactly the claims EverShop writes, with ``changes`` applied (``_DROP`` removes one)."""
    now = int(time.time())
    claims = {
        claim: identity,
        "tokenType": token_type,
        "tokenKind": kind,
        "iss": "evershop",
        "aud": token_type,
        "iat": now,
        "exp": now + lifetime,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not _DROP}


def _admin_claims(admin: dict, kind: str = "access", **changes) -> dict:
    identity = {name: admin[name] for name in ADMIN_IDENTITY}
    lifetime = 900 if kind == "access" else 54000
    return _evershop_claims("user", identity, "admin", kind, lifetime, **changes)


def _customer_claims(customer: dict, kind: str = "access", **changes) -> dict:
    identity = {name: customer[name] for name in CUSTOMER_IDENTITY}
    lifetime = 1800 if kind == "access" else 108000
    return _evershop_claims("customer", identity, "customer", kind, lifetime, **changes)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _assert_401(response, message: str) -> None:
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": message}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _assert_credentials_401(response, message: str) -> None:
    """A refused login or refresh: credentials in the body, so no bearer challenge."""
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": message}}
    assert "WWW-Authenticate" not in response.headers


def _assert_400_naming(response, field: str, message: str) -> None:
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid {field}: {message}",
            "errors": [{"field": field, "message": message}],
        }
    }


def _set_admin_status(app, admin_id: int, status: bool) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(AdminUser).where(AdminUser.admin_user_id == admin_id).values(status=status)
        )
        db.session.commit()
        db.session.remove()


def _delete_admin(app, admin_id: int) -> None:
    with app.app_context():
        db.session.execute(sa.delete(AdminUser).where(AdminUser.admin_user_id == admin_id))
        db.session.commit()
        db.session.remove()


def _admin_rows(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(AdminUser.email, AdminUser.password)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _customer_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Customer))
        db.session.remove()
    return count


def _customer_password_hash(app, customer_id: int) -> str:
    with app.app_context():
        hashed = db.session.get(Customer, customer_id).password
        db.session.remove()
    return hashed


def _admin_login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    return client.post("/api/user/tokens", json={"email": email, "password": password})


def _customer_login(client, email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


@pytest.fixture
def admin(auth) -> dict:
    """The admin user (admin@example.com), as ``to_dict`` shows it."""
    return auth.create_admin()


@pytest.fixture
def customer(auth) -> dict:
    """An active customer (john.smith@example.com), created by the default admin."""
    return auth.create_customer()


# --- POST /api/user/tokens ------------------------------------------------------


def test_admin_login_returns_access_and_refresh_tokens(client, admin):
    # When
    response = _admin_login(client)

    # Then
    assert response.status_code == 200
    assert set(response.json) == {"data"}
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}
    assert all(isinstance(token, str) for token in response.json["data"].values())


def test_admin_access_token_carries_evershop_claims(client, admin):
    # When
    token = _admin_login(client).json["data"]["accessToken"]

    # Then
    claims = _claims(token)
    assert claims["user"] == {
        "admin_user_id": admin["admin_user_id"],
        "uuid": admin["uuid"],
        "email": ADMIN_EMAIL,
        "full_name": "Admin",
        "status": 1,
    }
    assert claims["tokenType"] == "admin"
    assert claims["tokenKind"] == "access"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == "admin"
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_admin_refresh_token_carries_evershop_claims(client, admin):
    # When
    token = _admin_login(client).json["data"]["refreshToken"]

    # Then
    claims = _claims(token)
    assert claims["user"] == {name: admin[name] for name in ADMIN_IDENTITY}
    assert claims["tokenType"] == "admin"
    assert claims["tokenKind"] == "refresh"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == "admin"
    assert claims["exp"] - claims["iat"] == 54000
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_admin_tokens_are_signed_with_the_admin_secrets(app, client, admin):
    # When
    data = _admin_login(client).json["data"]

    # Then: each verifies with its own secret, audience and issuer
    access = jwt.decode(
        data["accessToken"],
        app.config["JWT_ADMIN_SECRET"],
        algorithms=["HS256"],
        audience="admin",
        issuer="evershop",
    )
    refresh = jwt.decode(
        data["refreshToken"],
        app.config["JWT_ADMIN_REFRESH_SECRET"],
        algorithms=["HS256"],
        audience="admin",
        issuer="evershop",
    )
    assert (access["tokenKind"], refresh["tokenKind"]) == ("access", "refresh")


def test_admin_login_matches_email_case_insensitively(client, admin):
    # When
    response = _admin_login(client, email="ADMIN@Example.COM")

    # Then
    assert response.status_code == 200
    assert _claims(response.json["data"]["accessToken"])["user"]["email"] == ADMIN_EMAIL


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"password": ADMIN_PASSWORD}, "email", MISSING),
        ({"email": ADMIN_EMAIL}, "password", MISSING),
        ({"email": 42, "password": ADMIN_PASSWORD}, "email", NOT_A_STRING),
        ({"email": ADMIN_EMAIL, "password": ["admin-password-1"]}, "password", NOT_A_STRING),
        ({"email": None, "password": ADMIN_PASSWORD}, "email", NULL),
    ],
    ids=["missing-email", "missing-password", "email-number", "password-list", "email-null"],
)
def test_admin_login_with_missing_or_mistyped_field_is_400_naming_it(
    client, admin, body, field, message
):
    # When
    response = client.post("/api/user/tokens", json=body)

    # Then
    _assert_400_naming(response, field, message)


def test_admin_login_with_wrong_password_is_401(client, admin):
    # When
    response = _admin_login(client, password="not-the-password")

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


def test_admin_login_with_unknown_email_is_401(client, admin):
    # When
    response = _admin_login(client, email="nobody@example.com")

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


def test_disabled_admin_cannot_log_in(app, client, admin):
    # Given
    _set_admin_status(app, admin["admin_user_id"], False)

    # When
    response = _admin_login(client)

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


# --- POST /api/user/token/refresh -----------------------------------------------


def test_admin_refresh_gives_a_working_access_token(client, admin):
    # Given
    refresh_token = _admin_login(client).json["data"]["refreshToken"]

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": refresh_token})

    # Then
    assert response.status_code == 200
    assert set(response.json["data"]) == {"accessToken"}
    access_token = response.json["data"]["accessToken"]
    claims = _claims(access_token)
    assert (claims["tokenType"], claims["tokenKind"], claims["aud"]) == ("admin", "access", "admin")
    assert claims["exp"] - claims["iat"] == 900
    assert client.get("/api/customers", headers=_bearer(access_token)).status_code == 200


def test_admin_refresh_without_refresh_token_is_400(client, admin):
    # When
    response = client.post("/api/user/token/refresh", json={})

    # Then
    _assert_400_naming(response, "refreshToken", MISSING)


def test_admin_refresh_with_garbage_is_401(client, admin):
    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": "not-a-jwt"})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_admin_refresh_with_an_access_token_is_401(client, admin):
    # Given
    access_token = _admin_login(client).json["data"]["accessToken"]

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": access_token})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_admin_refresh_with_an_expired_refresh_token_is_401(app, client, admin):
    # Given
    past = int(time.time()) - 60
    expired = _sign(
        _admin_claims(admin, "refresh", iat=past - 54000, exp=past),
        app.config["JWT_ADMIN_REFRESH_SECRET"],
    )

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": expired})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_admin_refresh_with_a_customer_refresh_token_is_401(client, auth, customer):
    # Given
    refresh_token = auth.customer_tokens()["refreshToken"]

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_admin_refresh_for_a_deleted_admin_is_401(app, client, admin):
    # Given
    refresh_token = _admin_login(client).json["data"]["refreshToken"]
    _delete_admin(app, admin["admin_user_id"])

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, ADMIN_REFRESH_GONE)


def test_admin_refresh_for_a_disabled_admin_is_401(app, client, admin):
    # Given
    refresh_token = _admin_login(client).json["data"]["refreshToken"]
    _set_admin_status(app, admin["admin_user_id"], False)

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, ADMIN_REFRESH_GONE)


# --- POST /api/customer/tokens --------------------------------------------------


def test_customer_login_returns_access_and_refresh_tokens(client, customer):
    # When
    response = _customer_login(client)

    # Then
    assert response.status_code == 200
    assert set(response.json) == {"data"}
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}
    assert all(isinstance(token, str) for token in response.json["data"].values())


def test_customer_access_token_carries_evershop_claims(client, customer):
    # When
    token = _customer_login(client).json["data"]["accessToken"]

    # Then
    claims = _claims(token)
    assert claims["customer"] == {
        "customer_id": customer["customer_id"],
        "uuid": customer["uuid"],
        "email": CUSTOMER_EMAIL,
        "full_name": "John Smith",
        "status": 1,
        "group_id": 1,
    }
    assert claims["tokenType"] == "customer"
    assert claims["tokenKind"] == "access"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == "customer"
    assert claims["exp"] - claims["iat"] == 1800
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_customer_refresh_token_carries_evershop_claims(client, customer):
    # When
    token = _customer_login(client).json["data"]["refreshToken"]

    # Then
    claims = _claims(token)
    assert claims["customer"] == {name: customer[name] for name in CUSTOMER_IDENTITY}
    assert claims["tokenType"] == "customer"
    assert claims["tokenKind"] == "refresh"
    assert claims["iss"] == "evershop"
    assert claims["aud"] == "customer"
    assert claims["exp"] - claims["iat"] == 108000
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_customer_tokens_are_signed_with_the_customer_secrets(app, client, customer):
    # When
    data = _customer_login(client).json["data"]

    # Then
    access = jwt.decode(
        data["accessToken"],
        app.config["JWT_CUSTOMER_SECRET"],
        algorithms=["HS256"],
        audience="customer",
        issuer="evershop",
    )
    refresh = jwt.decode(
        data["refreshToken"],
        app.config["JWT_CUSTOMER_REFRESH_SECRET"],
        algorithms=["HS256"],
        audience="customer",
        issuer="evershop",
    )
    assert (access["tokenKind"], refresh["tokenKind"]) == ("access", "refresh")


def test_customer_login_matches_email_case_insensitively(client, customer):
    # When
    response = _customer_login(client, email="John.SMITH@EXAMPLE.com")

    # Then
    assert response.status_code == 200
    assert _claims(response.json["data"]["accessToken"])["customer"]["email"] == CUSTOMER_EMAIL


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"password": CUSTOMER_PASSWORD}, "email", MISSING),
        ({"email": CUSTOMER_EMAIL}, "password", MISSING),
        ({"email": 42, "password": CUSTOMER_PASSWORD}, "email", NOT_A_STRING),
        ({"email": CUSTOMER_EMAIL, "password": 12345678}, "password", NOT_A_STRING),
        ({"email": CUSTOMER_EMAIL, "password": None}, "password", NULL),
    ],
    ids=["missing-email", "missing-password", "email-number", "password-number", "password-null"],
)
def test_customer_login_with_missing_or_mistyped_field_is_400_naming_it(
    client, customer, body, field, message
):
    # When
    response = client.post("/api/customer/tokens", json=body)

    # Then
    _assert_400_naming(response, field, message)


def test_customer_login_with_wrong_password_is_401(client, customer):
    # When
    response = _customer_login(client, password="not-the-password")

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


def test_customer_login_with_unknown_email_is_401(client, customer):
    # When
    response = _customer_login(client, email="nobody@example.com")

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


def test_customer_login_with_an_admin_account_is_401(client, customer):
    # When: the admin's credentials are not a customer's
    response = _customer_login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


def test_disabled_customer_cannot_log_in(client, auth, customer):
    # Given
    disabled = client.patch(
        f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=auth.admin_headers()
    )
    assert disabled.status_code == 200

    # When
    response = _customer_login(client)

    # Then
    _assert_credentials_401(response, INVALID_LOGIN)


# --- POST /api/customer/token/refresh -------------------------------------------


def test_customer_refresh_gives_a_working_access_token(client, auth, customer):
    # Given
    refresh_token = auth.customer_tokens()["refreshToken"]

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh_token})

    # Then
    assert response.status_code == 200
    assert set(response.json["data"]) == {"accessToken"}
    access_token = response.json["data"]["accessToken"]
    claims = _claims(access_token)
    assert (claims["tokenType"], claims["tokenKind"], claims["aud"]) == (
        "customer",
        "access",
        "customer",
    )
    assert claims["exp"] - claims["iat"] == 1800
    me = client.get("/api/customers/me", headers=_bearer(access_token))
    assert me.status_code == 200
    assert me.json["data"]["uuid"] == customer["uuid"]


def test_customer_refresh_without_refresh_token_is_400(client, customer):
    # When
    response = client.post("/api/customer/token/refresh", json={})

    # Then
    _assert_400_naming(response, "refreshToken", MISSING)


def test_customer_refresh_with_garbage_is_401(client, customer):
    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": "garbage"})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_customer_refresh_with_an_access_token_is_401(client, auth, customer):
    # Given
    access_token = auth.customer_tokens()["accessToken"]

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": access_token})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_customer_refresh_with_an_expired_refresh_token_is_401(app, client, customer):
    # Given
    past = int(time.time()) - 60
    expired = _sign(
        _customer_claims(customer, "refresh", iat=past - 108000, exp=past),
        app.config["JWT_CUSTOMER_REFRESH_SECRET"],
    )

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": expired})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_customer_refresh_with_an_admin_refresh_token_is_401(client, auth, customer):
    # Given
    refresh_token = auth.admin_tokens()["refreshToken"]

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, TOKEN_INVALID)


def test_customer_refresh_for_a_deleted_customer_is_401(client, auth, customer):
    # Given
    refresh_token = auth.customer_tokens()["refreshToken"]
    deleted = client.delete(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert deleted.status_code == 200

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, CUSTOMER_REFRESH_GONE)


def test_customer_refresh_for_a_disabled_customer_is_401(client, auth, customer):
    # Given
    refresh_token = auth.customer_tokens()["refreshToken"]
    disabled = client.patch(
        f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=auth.admin_headers()
    )
    assert disabled.status_code == 200

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh_token})

    # Then
    _assert_credentials_401(response, CUSTOMER_REFRESH_GONE)


# --- tokens signed by another program (EverShop) ----------------------------------


def test_admin_token_signed_by_another_program_is_accepted(app, client, admin):
    # Given: exactly EverShop's claims, nothing else
    token = _sign(_admin_claims(admin), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    assert response.status_code == 200
    assert response.json["data"]["total"] == 0


def test_customer_token_signed_by_another_program_is_accepted(app, client, customer):
    # Given: exactly EverShop's claims, nothing else
    token = _sign(_customer_claims(customer), app.config["JWT_CUSTOMER_SECRET"])

    # When
    response = client.get("/api/customers/me", headers=_bearer(token))

    # Then
    assert response.status_code == 200
    assert response.json["data"]["uuid"] == customer["uuid"]


def test_admin_refresh_token_signed_by_another_program_is_accepted(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin, "refresh"), app.config["JWT_ADMIN_REFRESH_SECRET"])

    # When
    response = client.post("/api/user/token/refresh", json={"refreshToken": token})

    # Then
    assert response.status_code == 200
    assert _claims(response.json["data"]["accessToken"])["user"]["uuid"] == admin["uuid"]


def test_customer_refresh_token_signed_by_another_program_is_accepted(app, client, customer):
    # Given
    token = _sign(_customer_claims(customer, "refresh"), app.config["JWT_CUSTOMER_REFRESH_SECRET"])

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": token})

    # Then
    assert response.status_code == 200
    assert _claims(response.json["data"]["accessToken"])["customer"]["uuid"] == customer["uuid"]


# --- rejected access tokens on an admin route ------------------------------------


def test_refresh_token_used_as_access_token_is_401(client, admin):
    # Given
    refresh_token = _admin_login(client).json["data"]["refreshToken"]

    # When
    response = client.get("/api/customers", headers=_bearer(refresh_token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_customer_refresh_token_used_as_access_token_is_401(client, auth, customer):
    # Given
    refresh_token = auth.customer_tokens()["refreshToken"]

    # When
    response = client.get("/api/customers/me", headers=_bearer(refresh_token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_admin_token_signed_with_the_customer_secret_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin), app.config["JWT_CUSTOMER_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_admin_token_signed_with_the_admin_refresh_secret_is_401(app, client, admin):
    # Given: an access token signed with the secret of refresh tokens
    token = _sign(_admin_claims(admin), app.config["JWT_ADMIN_REFRESH_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_admin_token_with_customer_audience_is_401(app, client, admin):
    # Given: the right secret, the wrong audience
    token = _sign(_admin_claims(admin, aud="customer"), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_admin_token_without_audience_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin, aud=_DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


@pytest.mark.parametrize(
    "changes",
    [
        {"tokenType": _DROP},
        {"tokenType": "superadmin"},
        {"tokenKind": _DROP},
        {"tokenKind": "identity"},
    ],
    ids=["tokenType-missing", "tokenType-unknown", "tokenKind-missing", "tokenKind-unknown"],
)
def test_admin_token_with_missing_or_unknown_type_or_kind_is_401(app, client, admin, changes):
    # Given
    token = _sign(_admin_claims(admin, **changes), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_admin_token_from_another_issuer_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin, iss="another-shop"), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_expired_admin_access_token_is_401(app, client, admin):
    # Given
    past = int(time.time()) - 60
    token = _sign(_admin_claims(admin, iat=past - 900, exp=past), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_unsigned_alg_none_token_is_401(client, admin):
    # Given: a token that claims no signature is needed
    header = _b64({"alg": "none", "typ": "JWT"})
    token = f"{header}.{_b64(_admin_claims(admin))}."

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_hs512_token_with_the_right_secret_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin), app.config["JWT_ADMIN_SECRET"], algorithm="HS512")

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_token_with_a_tampered_payload_is_401(client, admin):
    # Given: one character of the payload segment changed after signing
    token = _admin_login(client).json["data"]["accessToken"]
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    replacement = "A" if payload[middle] != "A" else "B"
    tampered = f"{header}.{payload[:middle]}{replacement}{payload[middle + 1 :]}.{signature}"
    assert client.get("/api/customers", headers=_bearer(token)).status_code == 200

    # When
    response = client.get("/api/customers", headers=_bearer(tampered))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_token_with_a_rewritten_payload_is_401(client, auth, customer):
    # Given: a customer's token whose payload is replaced by an admin's claims,
    # keeping the customer's signature
    admin = _claims(auth.admin_tokens()["accessToken"])["user"]
    header, _, signature = auth.customer_tokens()["accessToken"].split(".")
    forged = f"{header}.{_b64(_admin_claims(admin))}.{signature}"

    # When
    response = client.get("/api/customers", headers=_bearer(forged))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_token_without_exp_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin, exp=_DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


def test_token_without_iat_is_401(app, client, admin):
    # Given
    token = _sign(_admin_claims(admin, iat=_DROP), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, TOKEN_INVALID)


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
    _assert_401(response, message)


def test_admin_route_without_token_is_401(client, admin):
    # When
    response = client.get("/api/customers")

    # Then
    _assert_401(response, NO_TOKEN)


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
    assert _customer_count(app) == 1
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
    _assert_401(response, NO_TOKEN)
    assert _customer_count(app) == 1
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
    _assert_401(response, message)
    assert _customer_count(app) == 0
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
    _assert_401(response, message)
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
    _assert_401(response, TOKEN_INVALID)


def test_invalid_authorization_on_the_openapi_document_is_401(client):
    # When
    response = client.get("/api/openapi.json", headers={"Authorization": "Bearer not-a-jwt"})

    # Then
    _assert_401(response, TOKEN_INVALID)


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
    expired = _sign(
        _customer_claims(customer, iat=past - 1800, exp=past), app.config["JWT_CUSTOMER_SECRET"]
    )
    before = events()

    # When
    response = client.post(
        "/api/customers",
        json={"email": "new@example.com", "password": "new-password-1", "full_name": "New"},
        headers=_bearer(expired),
    )

    # Then
    _assert_401(response, TOKEN_INVALID)
    assert _customer_count(app) == 1
    assert events() == before


# --- accounts that go away --------------------------------------------------------


def test_deleted_admin_tokens_stop_working_at_once(app, client, admin):
    # Given
    headers = _bearer(_admin_login(client).json["data"]["accessToken"])
    assert client.get("/api/customers", headers=headers).status_code == 200

    # When
    _delete_admin(app, admin["admin_user_id"])

    # Then
    _assert_401(client.get("/api/customers", headers=headers), ACCOUNT_GONE)


def test_disabled_admin_tokens_stop_working_at_once(app, client, admin):
    # Given
    headers = _bearer(_admin_login(client).json["data"]["accessToken"])
    assert client.get("/api/customers", headers=headers).status_code == 200

    # When
    _set_admin_status(app, admin["admin_user_id"], False)

    # Then
    _assert_401(client.get("/api/customers", headers=headers), ACCOUNT_GONE)


def test_deleted_customer_tokens_stop_working_at_once(client, auth, customer):
    # Given
    headers = auth.customer_headers()
    assert client.get("/api/customers/me", headers=headers).status_code == 200

    # When
    deleted = client.delete(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert deleted.status_code == 200

    # Then
    _assert_401(client.get("/api/customers/me", headers=headers), ACCOUNT_GONE)


def test_disabled_customer_tokens_stop_working_at_once(client, auth, customer):
    # Given
    headers = auth.customer_headers()
    assert client.get("/api/customers/me", headers=headers).status_code == 200

    # When
    disabled = client.patch(
        f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=auth.admin_headers()
    )
    assert disabled.status_code == 200

    # Then
    _assert_401(client.get("/api/customers/me", headers=headers), ACCOUNT_GONE)


def test_token_naming_another_uuid_for_the_same_id_is_401(app, client, admin):
    # Given: the admin's id with a uuid that is not the admin's
    identity = {**admin, "uuid": "00000000-0000-4000-8000-000000000000"}
    token = _sign(_admin_claims(identity), app.config["JWT_ADMIN_SECRET"])

    # When
    response = client.get("/api/customers", headers=_bearer(token))

    # Then
    _assert_401(response, ACCOUNT_GONE)


# --- a customer's password changes ------------------------------------------------


def _tokens_issued_ten_seconds_ago(app, customer: dict) -> tuple[str, str]:
    """An access and a refresh token as EverShop would have issued them 10 s ago
    (iat has a one-second resolution, so an earlier second is needed)."""
    iat = int(time.time()) - 10
    access = _sign(
        _customer_claims(customer, iat=iat, exp=iat + 1800), app.config["JWT_CUSTOMER_SECRET"]
    )
    refresh = _sign(
        _customer_claims(customer, "refresh", iat=iat, exp=iat + 108000),
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
    assert client.get("/api/customers/me", headers=_bearer(access)).status_code == 200

    # When
    _change_password(client, auth, customer, "brand-new-pass-2")

    # Then
    _assert_401(client.get("/api/customers/me", headers=_bearer(access)), ACCOUNT_GONE)


def test_refresh_token_issued_before_password_change_is_401(app, client, auth, customer):
    # Given
    _, refresh = _tokens_issued_ten_seconds_ago(app, customer)

    # When
    _change_password(client, auth, customer, "brand-new-pass-2")

    # Then
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    _assert_credentials_401(response, CUSTOMER_REFRESH_GONE)


def test_login_after_password_change_works_with_the_new_password_only(client, auth, customer):
    # Given
    _change_password(client, auth, customer, "brand-new-pass-2")

    # When
    old = _customer_login(client)
    new = _customer_login(client, password="brand-new-pass-2")

    # Then
    _assert_credentials_401(old, INVALID_LOGIN)
    assert new.status_code == 200
    data = new.json["data"]
    me = client.get("/api/customers/me", headers=_bearer(data["accessToken"]))
    assert me.status_code == 200
    refreshed = client.post(
        "/api/customer/token/refresh", json={"refreshToken": data["refreshToken"]}
    )
    assert refreshed.status_code == 200


# --- flask user create ------------------------------------------------------------


def test_cli_creates_an_admin_who_can_log_in(app, client, runner):
    # When
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--password",
            "boss-password-1",
            "--full-name",
            "The Boss",
        ]
    )

    # Then
    assert result.exit_code == 0, result.output
    assert "Created admin user boss@example.com" in result.output
    response = _admin_login(client, email="boss@example.com", password="boss-password-1")
    assert response.status_code == 200
    identity = _claims(response.json["data"]["accessToken"])["user"]
    assert (identity["email"], identity["full_name"], identity["status"]) == (
        "boss@example.com",
        "The Boss",
        1,
    )


def test_cli_refuses_an_email_taken_in_another_letter_case(app, runner):
    # Given
    first = runner.invoke(
        args=["user", "create", "--email", "boss@example.com", "--password", "boss-password-1"]
    )
    assert first.exit_code == 0, first.output

    # When
    result = runner.invoke(
        args=["user", "create", "--email", "BOSS@Example.com", "--password", "other-password-2"]
    )

    # Then
    assert result.exit_code != 0
    assert "Error: Email is already used" in result.output
    assert [email for email, _ in _admin_rows(app)] == ["boss@example.com"]


def test_cli_refuses_a_too_short_password(app, client, runner):
    # When
    result = runner.invoke(
        args=["user", "create", "--email", "boss@example.com", "--password", "short"]
    )

    # Then
    assert result.exit_code != 0
    assert "Error: Invalid password: Must be at least 8 characters long." in result.output
    assert _admin_rows(app) == []
    _assert_credentials_401(_admin_login(client, "boss@example.com", "short"), INVALID_LOGIN)


# --- the password hash never leaves ----------------------------------------------


def test_admin_token_response_and_claims_never_carry_the_password_hash(app, client, admin):
    # Given
    [(_, password_hash)] = _admin_rows(app)

    # When
    login = _admin_login(client)
    refreshed = client.post(
        "/api/user/token/refresh", json={"refreshToken": login.json["data"]["refreshToken"]}
    )

    # Then
    for response in (login, refreshed):
        assert password_hash not in response.get_data(as_text=True)
        for token in response.json["data"].values():
            claims = _claims(token)
            assert password_hash not in json.dumps(claims)
            assert "password" not in claims["user"]
            assert "password" not in claims


def test_customer_token_response_and_claims_never_carry_the_password_hash(app, client, customer):
    # Given
    password_hash = _customer_password_hash(app, customer["customer_id"])

    # When
    login = _customer_login(client)
    refreshed = client.post(
        "/api/customer/token/refresh", json={"refreshToken": login.json["data"]["refreshToken"]}
    )

    # Then
    for response in (login, refreshed):
        assert password_hash not in response.get_data(as_text=True)
        for token in response.json["data"].values():
            claims = _claims(token)
            assert password_hash not in json.dumps(claims)
            assert "password" not in claims["customer"]
            assert "password" not in claims
