"""Authentication (docs/api.md, "Authentication"): what the files beside this
one share, above all the two kinds of account. Admins and customers log in,
refresh and are refused the same way through routes and secrets of their
own, so each behaviour they share is one test run for both kinds."""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest
import sqlalchemy as sa

from app.auth.models import AdminUser
from app.db import db
from plugins.customer.models import Customer
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Auth
from tests.helpers import bearer

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

DROP = object()  # a claim to leave out of a hand-made token


# --- tokens made by hand ------------------------------------------------------------


def sign(claims: dict, secret: str, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about key length for HS512
        return jwt.encode(claims, secret, algorithm=algorithm)


def b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def evershop_claims(
    claim: str, identity: dict, token_type: str, kind: str, lifetime: int, **changes
) -> dict:
    """Exactly the claims EverShop writes, with ``changes`` applied (``DROP`` removes one)."""
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
    return {name: value for name, value in claims.items() if value is not DROP}


def admin_claims(admin: dict, kind: str = "access", **changes) -> dict:
    identity = {name: admin[name] for name in ADMIN_IDENTITY}
    lifetime = 900 if kind == "access" else 54000
    return evershop_claims("user", identity, "admin", kind, lifetime, **changes)


def customer_claims(customer: dict, kind: str = "access", **changes) -> dict:
    identity = {name: customer[name] for name in CUSTOMER_IDENTITY}
    lifetime = 1800 if kind == "access" else 108000
    return evershop_claims("customer", identity, "customer", kind, lifetime, **changes)


# --- assertions -------------------------------------------------------------------


def assert_401(response, message: str) -> None:
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": message}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def assert_credentials_401(response, message: str) -> None:
    """A refused login or refresh: credentials in the body, so no bearer challenge."""
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": message}}
    assert "WWW-Authenticate" not in response.headers


# --- the rows behind the accounts ---------------------------------------------------


def set_admin_status(app, admin_id: int, status: bool) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(AdminUser).where(AdminUser.admin_user_id == admin_id).values(status=status)
        )
        db.session.commit()
        db.session.remove()


def delete_admin(app, admin_id: int) -> None:
    with app.app_context():
        db.session.execute(sa.delete(AdminUser).where(AdminUser.admin_user_id == admin_id))
        db.session.commit()
        db.session.remove()


def admin_rows(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(AdminUser.email, AdminUser.password)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def customer_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Customer))
        db.session.remove()
    return count


def customer_password_hash(app, customer_id: int) -> str:
    with app.app_context():
        hashed = db.session.get(Customer, customer_id).password
        db.session.remove()
    return hashed


def admin_login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    return client.post("/api/user/tokens", json={"email": email, "password": password})


def customer_login(client, email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


# --- the two kinds of account -------------------------------------------------------


def _disable_customer(auth: Auth, customer: dict) -> None:
    response = auth.client.patch(
        f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=auth.admin_headers()
    )
    assert response.status_code == 200, response.json


def _delete_customer(auth: Auth, customer: dict) -> None:
    response = auth.client.delete(
        f"/api/customers/{customer['uuid']}", headers=auth.admin_headers()
    )
    assert response.status_code == 200, response.json


def _admin_token_opens(client, token: str, admin: dict) -> None:
    """An admin's access token lists the customers (none in these tests)."""
    response = client.get("/api/customers", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["data"]["total"] == 0


def _customer_token_opens(client, token: str, customer: dict) -> None:
    """A customer's access token reads that customer's own account."""
    response = client.get("/api/customers/me", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]


@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of account: its routes, its secrets and lifetimes, the claims
    it is named under, and how a test makes, disables or deletes one."""

    name: str
    login_path: str
    refresh_path: str
    own_route: str  # a route that its access tokens open
    claim: str  # the claim that holds the account's identity
    secret: str  # config keys of the signing secrets
    refresh_secret: str
    access_lifetime: int
    refresh_lifetime: int
    email: str
    password: str
    email_in_other_case: str
    identity: tuple[str, ...]  # the fields of the identity claim
    known_identity: dict  # what the identity claim holds besides id and uuid
    refresh_gone: str
    claims: Callable[..., dict]
    create: Callable[[Auth], dict]
    tokens: Callable[[Auth], dict]
    disable: Callable[[Auth, dict], None]
    delete: Callable[[Auth, dict], None]
    assert_token_opens: Callable[[object, str, dict], None]
    password_hash: Callable[[object, dict], str]

    def __str__(self) -> str:
        return self.name

    def login(self, client, email=None, password=None):
        body = {"email": email or self.email, "password": password or self.password}
        return client.post(self.login_path, json=body)

    def sign(self, app, claims: dict, *, refresh: bool = False, algorithm: str = "HS256") -> str:
        """``claims`` signed with this kind's access secret (or its refresh secret)."""
        key = self.refresh_secret if refresh else self.secret
        return sign(claims, app.config[key], algorithm)


ADMIN = Kind(
    name="admin",
    login_path="/api/user/tokens",
    refresh_path="/api/user/token/refresh",
    own_route="/api/customers",
    claim="user",
    secret="JWT_ADMIN_SECRET",
    refresh_secret="JWT_ADMIN_REFRESH_SECRET",
    access_lifetime=900,
    refresh_lifetime=54000,
    email=ADMIN_EMAIL,
    password=ADMIN_PASSWORD,
    email_in_other_case="ADMIN@Example.COM",
    identity=ADMIN_IDENTITY,
    known_identity={"email": ADMIN_EMAIL, "full_name": "Admin", "status": 1},
    refresh_gone=ADMIN_REFRESH_GONE,
    claims=admin_claims,
    create=lambda auth: auth.create_admin(),
    tokens=lambda auth: auth.admin_tokens(),
    disable=lambda auth, admin: set_admin_status(auth.app, admin["admin_user_id"], False),
    delete=lambda auth, admin: delete_admin(auth.app, admin["admin_user_id"]),
    assert_token_opens=_admin_token_opens,
    password_hash=lambda app, admin: dict(admin_rows(app))[admin["email"]],
)

CUSTOMER = Kind(
    name="customer",
    login_path="/api/customer/tokens",
    refresh_path="/api/customer/token/refresh",
    own_route="/api/customers/me",
    claim="customer",
    secret="JWT_CUSTOMER_SECRET",
    refresh_secret="JWT_CUSTOMER_REFRESH_SECRET",
    access_lifetime=1800,
    refresh_lifetime=108000,
    email=CUSTOMER_EMAIL,
    password=CUSTOMER_PASSWORD,
    email_in_other_case="John.SMITH@EXAMPLE.com",
    identity=CUSTOMER_IDENTITY,
    known_identity={"email": CUSTOMER_EMAIL, "full_name": "John Smith", "status": 1, "group_id": 1},
    refresh_gone=CUSTOMER_REFRESH_GONE,
    claims=customer_claims,
    create=lambda auth: auth.create_customer(),
    tokens=lambda auth: auth.customer_tokens(),
    disable=_disable_customer,
    delete=_delete_customer,
    assert_token_opens=_customer_token_opens,
    password_hash=lambda app, customer: customer_password_hash(app, customer["customer_id"]),
)

OTHER = {ADMIN: CUSTOMER, CUSTOMER: ADMIN}


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(params=[ADMIN, CUSTOMER], ids=str)
def kind(request) -> Kind:
    """Each kind of account in turn, for the behaviours both share."""
    return request.param


@pytest.fixture
def account(kind, auth) -> dict:
    """An account of this test's kind (admin@example.com, or
    john.smith@example.com made by that admin)."""
    return kind.create(auth)


@pytest.fixture
def admin(auth) -> dict:
    """The admin user (admin@example.com), as ``to_dict`` shows it."""
    return auth.create_admin()


@pytest.fixture
def customer(auth) -> dict:
    """An active customer (john.smith@example.com), created by the default admin."""
    return auth.create_customer()
