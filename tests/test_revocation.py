"""Revocation is exact (docs/api.md, "Authentication"): tokens this service
signs carry the account's token version, so a password change refuses every
token issued before it and accepts every one issued after, even within one
second; EverShop's tokens keep the second-based rule. A customer's reset
tokens die with an email change."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa

from app.db import db
from plugins.password.models import ResetPasswordToken
from tests.helpers import bearer, start_of_a_second

PASSWORD = "customer-pass-1"
NEW_PASSWORD = "brand-new-pass-2"
REVOKED = "The token's account no longer exists, is disabled, or its token was revoked."


def change_password(client, auth, customer: dict):
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"password": NEW_PASSWORD},
        headers=auth.admin_headers(),
    )
    assert response.status_code == 200, response.json


def test_access_token_issued_in_the_second_of_a_password_change_but_before_it_is_refused(
    client, auth
):
    customer = auth.create_customer()
    auth.admin_headers()
    start_of_a_second()
    token = auth.customer_tokens()["accessToken"]

    change_password(client, auth, customer)
    response = client.get("/api/customers/me", headers=bearer(token))

    assert response.status_code == 401, response.json
    assert response.json["error"]["message"] == REVOKED


def test_refresh_token_issued_before_a_password_change_mints_nothing(client, auth):
    customer = auth.create_customer()
    auth.admin_headers()
    start_of_a_second()
    refresh = auth.customer_tokens()["refreshToken"]

    change_password(client, auth, customer)
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})

    assert response.status_code == 401, response.json


def test_token_issued_after_a_password_change_in_the_same_second_is_accepted(client, auth):
    customer = auth.create_customer()
    auth.admin_headers()
    start_of_a_second()

    change_password(client, auth, customer)
    token = auth.customer_tokens(password=NEW_PASSWORD)["accessToken"]
    response = client.get("/api/customers/me", headers=bearer(token))

    assert response.status_code == 200, response.json


# --- reset tokens and email changes ------------------------------------------------------


def reset_token(app, client, caplog) -> str:
    caplog.set_level(logging.INFO, logger="app.mail")
    seen = len(caplog.records)
    response = client.post(
        "/api/customers/reset-password", json={"email": "john.smith@example.com"}
    )
    assert response.status_code == 200, response.json
    result = app.test_cli_runner().invoke(args=["events", "run", "--once"])
    assert result.exit_code == 0, result.output
    text = "\n".join(r.getMessage() for r in caplog.records[seen:] if r.name == "app.mail")
    (token,) = re.findall(r"/reset-password\?token=([A-Za-z0-9_-]+)", text)
    return token


def change_token(app, caplog) -> str:
    """The token of the email-change link just mailed (to the log, in tests)."""
    caplog.set_level(logging.INFO, logger="app.mail")
    seen = len(caplog.records)
    result = app.test_cli_runner().invoke(args=["events", "run", "--once"])
    assert result.exit_code == 0, result.output
    text = "\n".join(r.getMessage() for r in caplog.records[seen:] if r.name == "app.mail")
    (token,) = re.findall(r"/verify-email\?token=([A-Za-z0-9_-]+)", text)
    return token


def reset_token_count(app) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count()).select_from(ResetPasswordToken))
        db.session.remove()
    return found


def use(client, token):
    return client.post("/api/customers/password", json={"token": token, "password": NEW_PASSWORD})


def test_reset_token_dies_when_an_admin_changes_the_email(app, client, auth, caplog):
    customer = auth.create_customer()
    token = reset_token(app, client, caplog)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email": "new.address@example.com"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert reset_token_count(app) == 0
    assert use(client, token).status_code == 400


def test_reset_token_dies_when_the_customer_changes_its_email(app, client, auth, caplog):
    auth.create_customer()
    headers = auth.customer_headers()
    token = reset_token(app, client, caplog)
    response = client.patch(
        "/api/customers/me", json={"email": "new.address@example.com"}, headers=headers
    )
    assert response.status_code == 200, response.json

    # The change applies when the new address opens its link (docs/api.md).
    confirmed = client.post(
        "/api/customers/verify-email", json={"token": change_token(app, caplog)}
    )

    assert confirmed.status_code == 200, confirmed.json
    assert use(client, token).status_code == 400


def test_reset_token_survives_a_change_of_name(app, client, auth, caplog):
    customer = auth.create_customer()
    token = reset_token(app, client, caplog)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "John A. Smith"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert use(client, token).status_code == 200
