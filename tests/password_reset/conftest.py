"""Password reset (docs/api.md, "Password reset" and "Events"): what the
files beside this one share.

The request answers and writes alike for every well-formed email; the password
plugin's subscriber then stores a token's SHA-256 and mails the link. Tests that
read the outbox keep the default ``EVENTS_DELIVERY="worker"`` and run the
worker themselves; with no ``MAIL_SERVER`` the email is written to the log,
where those tests read the link. Tests about the email itself send it to a real
SMTP server on a loopback port (tests/smtp.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import warnings
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from app.db import db, utcnow
from app.events import EventOutbox
from plugins.customer.models import Customer
from plugins.password.models import ResetPasswordToken
from tests.conftest import Auth
from tests.smtp import smtp_server, smtp_server_not_started  # noqa: F401 (fixtures)

CUSTOMER_EMAIL = "john.smith@example.com"
OLD_PASSWORD = "customer-pass-1"
NEW_PASSWORD = "brand-new-pass-2"
DISABLED_EMAIL = "disabled.customer@example.com"
UNKNOWN_EMAIL = "nobody@example.com"
STOREFRONT = "https://shop.example"

SUCCESS = {"data": {"success": True}}
TOKEN_INVALID = "Token is invalid or expired"
SUBMITTED = "reset_password_submitted"
MISSING = "Missing data for required field."
INVALID_LOGIN = "Invalid email or password"
ACCESS_REVOKED = "The token's account no longer exists, is disabled, or its token was revoked."
REFRESH_REVOKED = "The token's account no longer exists, is disabled, or was revoked."
CUSTOMER_IDENTITY = ("customer_id", "uuid", "email", "full_name", "status", "group_id")
RACERS = 8

# A token in a link, as far as characters that cannot belong to a URL.
TOKEN_IN_LINK = r"/reset-password\?token=([^\s\"'<>&]+)"


# --- requests ---------------------------------------------------------------------


def request_reset(client, email):
    return client.post("/api/customers/reset-password", json={"email": email})


def set_password(client, token, password):
    return client.post("/api/customers/password", json={"token": token, "password": password})


def login(client, email=CUSTOMER_EMAIL, password=OLD_PASSWORD):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


def run_worker(runner) -> None:
    """``flask events run --once``: deliver what is due now."""
    result = runner.invoke(args=["events", "run", "--once"])
    assert result.exit_code == 0, (result.output, result.exception)


# --- reading the database ---------------------------------------------------------


def token_rows(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(ResetPasswordToken.customer_id, ResetPasswordToken.token).order_by(
                ResetPasswordToken.reset_password_token_id
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def outbox(app) -> list[dict]:
    """Every outbox row, oldest first, with what delivery records on it."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                EventOutbox.event_outbox_id,
                EventOutbox.name,
                EventOutbox.payload,
                EventOutbox.attempts,
                EventOutbox.last_error,
                EventOutbox.delivered_to,
            ).order_by(EventOutbox.event_outbox_id)
        ).all()
        db.session.remove()
    return [row._asdict() for row in rows]


def raw_table(app, table: str) -> str:
    """Every value of every row of ``table``, as text."""
    with app.app_context():
        rows = db.session.execute(sa.text(f"SELECT * FROM {table}")).all()
        db.session.remove()
    return "\n".join(repr(tuple(row)) for row in rows)


def password_hash(app, email=CUSTOMER_EMAIL) -> str:
    with app.app_context():
        value = db.session.scalar(sa.select(Customer.password).where(Customer.email == email))
        db.session.remove()
    return value


def customer_rows(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM customer ORDER BY customer_id")).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def age_tokens(app, seconds: int) -> None:
    """Move every reset token's ``created_at`` ``seconds`` into the past."""
    with app.app_context():
        db.session.execute(
            sa.update(ResetPasswordToken).values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()
        db.session.remove()


def shown(customer: dict) -> dict:
    """The customer as events and hooks carry it: the API's object without links."""
    return {name: value for name, value in customer.items() if name not in {"links", "addresses"}}


def customer_now(client, auth, customer: dict) -> dict:
    response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return shown(response.json["data"])


# --- tokens -----------------------------------------------------------------------


def tokens_in_log(records) -> list[str]:
    """The reset tokens in the links of mail written to the log."""
    found = []
    for record in records:
        if record.name == "app.mail":
            found += re.findall(TOKEN_IN_LINK, record.getMessage())
    return found


def token_by_log(client, runner, caplog, email=CUSTOMER_EMAIL) -> str:
    """A real token: request a reset, run the worker, read the link in the log
    (no MAIL_SERVER in tests: the email is logged)."""
    caplog.set_level(logging.INFO, logger="app.mail")
    seen = len(caplog.records)
    response = request_reset(client, email)
    assert response.status_code == 200, response.json
    run_worker(runner)
    tokens = tokens_in_log(caplog.records[seen:])
    assert len(tokens) == 1, caplog.text
    return tokens[0]


def token_by_mail(server, index: int = -1) -> str:
    """The token in the plain-text link of a message the SMTP server took."""
    tokens = re.findall(re.escape(STOREFRONT) + TOKEN_IN_LINK, server.messages[index].part("plain"))
    assert len(tokens) == 1, server.messages[index].part("plain")
    return tokens[0]


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def jwt_pair_issued_ten_seconds_ago(app, customer: dict) -> tuple[str, str]:
    """An access and a refresh token as EverShop issues them, with an ``iat`` an
    earlier second than any password change the test makes now."""
    iat = int(time.time()) - 10
    identity = {name: customer[name] for name in CUSTOMER_IDENTITY}

    def sign(kind: str, lifetime: int, secret: str) -> str:
        claims = {
            "customer": identity,
            "tokenType": "customer",
            "tokenKind": kind,
            "iss": "evershop",
            "aud": "customer",
            "iat": iat,
            "exp": iat + lifetime,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jwt.encode(claims, secret, algorithm="HS256")

    return (
        sign("access", 1800, app.config["JWT_CUSTOMER_SECRET"]),
        sign("refresh", 108000, app.config["JWT_CUSTOMER_REFRESH_SECRET"]),
    )


# --- assertions -------------------------------------------------------------------


def assert_token_invalid(response) -> None:
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": TOKEN_INVALID,
            "errors": [{"field": "token", "message": TOKEN_INVALID}],
        }
    }


def assert_success(response) -> None:
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS


def assert_password_is(client, password: str, refused: str) -> None:
    """Login works with ``password`` and is a 401 with ``refused``."""
    assert login(client, password=password).status_code == 200
    response = login(client, password=refused)
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": INVALID_LOGIN}}


def comparable_headers(response) -> list[tuple[str, str]]:
    return sorted(
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in {"x-request-id", "date"}
    )


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


@pytest.fixture
def disabled_customer(auth) -> dict:
    return auth.create_customer(email=DISABLED_EMAIL, full_name="Dee Sabled", status=0)


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811 (the imported fixture)
    """Events delivered as they commit, mail sent to the test SMTP server."""
    return make_app(
        EVENTS_DELIVERY="inline",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        STOREFRONT_URL=STOREFRONT,
    )


@pytest.fixture
def mail_client(mail_app):
    return mail_app.test_client()


@pytest.fixture
def mail_auth(mail_app, mail_client) -> Auth:
    return Auth(mail_app, mail_client)


@pytest.fixture
def mail_customer(mail_auth) -> dict:
    return mail_auth.create_customer()
