"""A password changed through EverShop revokes this service's older tokens:
revision 0007's trigger moves ``token_version`` (the rule for tokens this
service signs) and ``password_changed_at`` (the rule for tokens EverShop
signs) whichever application writes ``customer.password``."""

from __future__ import annotations

import hashlib
import secrets
import time

from tests.evershop.helpers import bearer, new_email

OLD_PASSWORD = "customer-pass-1"
NEW_PASSWORD = "customer-pass-2"


def signed_up_on_evershop(evershop) -> str:
    email = new_email()
    answer = evershop.request(
        "POST", "/api/customers", {"email": email, "password": OLD_PASSWORD, "full_name": "Eve"}
    )
    assert answer.status == 200, answer.body
    return email


def next_second() -> None:
    """Wait for the next second: EverShop's tokens are refused when issued in
    an earlier second than the password change (their iat counts seconds)."""
    time.sleep(1.05 - time.time() % 1)


def change_password_through_evershop(evershop, database, email: str) -> None:
    """EverShop's own reset: its ``POST /api/customers/password`` with a token
    stored the way its reset request stores one (the raw token is only mailed)."""
    token = secrets.token_hex(64)
    database(
        "INSERT INTO reset_password_token (customer_id, token)"
        " SELECT customer_id, :digest FROM customer WHERE email = :email",
        digest=hashlib.sha256(token.encode()).hexdigest(),
        email=email,
    )
    answer = evershop.request(
        "POST", "/api/customers/password", {"token": token, "password": NEW_PASSWORD}
    )
    assert answer.status == 200, answer.body


def test_a_password_changed_through_evershop_revokes_the_services_older_tokens(
    evershop, service, database
):
    email = signed_up_on_evershop(evershop)
    login = service.post("/api/customer/tokens", json={"email": email, "password": OLD_PASSWORD})
    assert login.status_code == 200, login.json
    old = login.json["data"]
    assert service.get("/api/customers/me", headers=bearer(old["accessToken"])).status_code == 200

    change_password_through_evershop(evershop, database, email)

    me = service.get("/api/customers/me", headers=bearer(old["accessToken"]))
    assert me.status_code == 401, me.json
    refreshed = service.post(
        "/api/customer/token/refresh", json={"refreshToken": old["refreshToken"]}
    )
    assert refreshed.status_code == 401, refreshed.json
    again = service.post("/api/customer/tokens", json={"email": email, "password": NEW_PASSWORD})
    assert again.status_code == 200, again.json
    fresh = bearer(again.json["data"]["accessToken"])
    assert service.get("/api/customers/me", headers=fresh).status_code == 200


def test_a_password_changed_through_evershop_revokes_evershops_older_tokens_on_the_service(
    evershop, service, database
):
    email = signed_up_on_evershop(evershop)
    login = evershop.request(
        "POST", "/api/customer/tokens", {"email": email, "password": OLD_PASSWORD}
    )
    assert login.status == 200, login.body
    old = login.body["data"]["accessToken"]
    assert service.get("/api/customers/me", headers=bearer(old)).status_code == 200
    next_second()

    change_password_through_evershop(evershop, database, email)

    me = service.get("/api/customers/me", headers=bearer(old))
    assert me.status_code == 401, me.json
    version, changed = database(
        "SELECT token_version, password_changed_at FROM customer WHERE email = :email",
        email=email,
    )[0]
    assert version == 1
    assert changed is not None
