"""Erasure (docs/api.md, "Erasure"): an admin erases a customer at once; a
customer asks, gets a confirmation link through the real SMTP server, and
confirms. ``anonymise`` keeps the row with nothing personal in it;
``delete`` deletes it. Every plugin erases its own data in the same
transaction (``customer_erase``), may refuse (``customer_before_erase``), and
``customer_erased`` tells subscribers."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db, utcnow
from app.errors import Conflict
from plugins.privacy.models import ErasureToken
from tests.conftest import Auth
from tests.smtp import smtp_server  # noqa: F401 (fixture)

hookimpl = pluggy.HookimplMarker("evershop")

EMAIL = "john.smith@example.com"
PASSWORD = "customer-pass-1"
STOREFRONT = "https://shop.example"
ADDRESS = {
    "full_name": "John Smith",
    "address_1": "1 Main St",
    "city": "Springfield",
    "country": "US",
}
SUCCESS = {"data": {"success": True}}
TOKEN_INVALID = "Token is invalid or expired"
INVALID = {
    "error": {
        "status": 400,
        "message": TOKEN_INVALID,
        "errors": [{"field": "token", "message": TOKEN_INVALID}],
    }
}
REVOKED = "The token's account no longer exists, is disabled, or its token was revoked."
# Tables that may hold something of a customer (the outbox is the events' own).
TABLES = (
    "customer",
    "customer_address",
    "reset_password_token",
    "customer_email_verification",
    "customer_email_token",
    "customer_erasure_token",
    "customer_event",
)
LINK = re.escape(STOREFRONT) + r"/delete-account\?token=([A-Za-z0-9_-]+)"


def erase(client, customer, headers):
    return client.post(f"/api/customers/{customer['uuid']}/erase", headers=headers)


def confirm(client, token):
    return client.post("/api/customers/delete-confirm", json={"token": token})


def ask(client, headers):
    return client.post("/api/customers/me/delete-request", headers=headers)


def login(client, email=EMAIL, password=PASSWORD):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


def everything(app) -> str:
    """Every value of every row of the tables that may hold customer data."""
    with app.app_context():
        text = "\n".join(
            repr(tuple(row))
            for table in TABLES
            for row in db.session.execute(sa.text(f"SELECT * FROM {table}")).all()
        )
        db.session.remove()
    return text


def count(app, table: str) -> int:
    with app.app_context():
        found = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        db.session.remove()
    return found


def row(app, customer) -> dict:
    with app.app_context():
        found = db.session.execute(
            sa.text(
                "SELECT email, full_name, status, password, meta_data, token_version"
                " FROM customer WHERE customer_id = :id"
            ),
            {"id": customer["customer_id"]},
        ).one_or_none()
        db.session.remove()
    return found._asdict() if found else None


def full_customer(client, auth, app) -> dict:
    """A customer with an address, a reset link, a verified email and an admin's note."""
    customer = auth.create_customer(email_verified=True)
    base = f"/api/customers/{customer['uuid']}"
    admin = auth.admin_headers()
    assert client.post(f"{base}/addresses", json=ADDRESS, headers=admin).status_code == 201
    assert (
        client.post(
            f"{base}/timeline", json={"note": "Rang about John Smith's parcel."}, headers=admin
        ).status_code
        == 201
    )
    client.post("/api/customers/reset-password", json={"email": EMAIL})
    app.test_cli_runner().invoke(args=["events", "run", "--once"])
    assert count(app, "reset_password_token") == 1
    return customer


# --- an admin's erasure ------------------------------------------------------------------


def test_admin_erase_anonymises_the_customer_and_keeps_its_row(app, client, auth):
    customer = full_customer(client, auth, app)
    version = row(app, customer)["token_version"]

    response = erase(client, customer, auth.admin_headers())

    assert response.status_code == 200, response.json
    record = response.json["data"]
    assert (record["customer_id"], record["uuid"], record["mode"]) == (
        customer["customer_id"],
        customer["uuid"],
        "anonymise",
    )
    stored = row(app, customer)
    assert stored["email"] == f"erased-{customer['uuid'].replace('-', '')}@erased.invalid"
    assert (stored["full_name"], stored["status"], stored["password"]) == (None, 0, "!erased")
    assert stored["meta_data"] in ({}, "{}")
    assert stored["token_version"] == version + 1


def test_erasure_leaves_no_personal_data_in_any_table(app, client, auth):
    customer = full_customer(client, auth, app)
    assert "John Smith" in everything(app)

    erase(client, customer, auth.admin_headers())

    text = everything(app)
    assert "john.smith" not in text.lower()
    assert "John Smith" not in text
    assert "Springfield" not in text
    assert (count(app, "customer_address"), count(app, "reset_password_token")) == (0, 0)
    assert count(app, "customer_email_verification") == 0


def test_erasure_keeps_the_timeline_without_the_notes_text(app, client, auth):
    customer = full_customer(client, auth, app)

    erase(client, customer, auth.admin_headers())

    timeline = client.get(
        f"/api/customers/{customer['uuid']}/timeline", headers=auth.admin_headers()
    ).json["data"]["items"]
    assert timeline[0]["event"] == "customer_erased"
    assert timeline[0]["details"] == {}
    (note,) = [entry for entry in timeline if entry["event"] == "customer_note_added"]
    assert note["note"] is None


def test_erased_customers_old_tokens_are_refused(app, client, auth):
    customer = auth.create_customer()
    tokens = auth.customer_tokens()

    erase(client, customer, auth.admin_headers())

    me = client.get(
        "/api/customers/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"}
    )
    assert me.status_code == 401
    assert me.json["error"]["message"] == REVOKED
    refreshed = client.post(
        "/api/customer/token/refresh", json={"refreshToken": tokens["refreshToken"]}
    )
    assert refreshed.status_code == 401


def test_erased_customer_cannot_log_in(client, auth):
    customer = auth.create_customer()

    erase(client, customer, auth.admin_headers())

    assert login(client).status_code == 401


def test_erased_customers_email_can_sign_up_again(app, client, auth):
    customer = auth.create_customer()
    erase(client, customer, auth.admin_headers())

    response = client.post(
        "/api/customers", json={"email": EMAIL, "password": PASSWORD, "full_name": "John Again"}
    )

    assert response.status_code == 201, response.json
    assert response.json["data"]["uuid"] != customer["uuid"]
    assert login(client).status_code == 200
    assert count(app, "customer") == 2


def test_erasure_emits_customer_erased_without_personal_data(client, auth, events):
    customer = auth.create_customer()

    response = erase(client, customer, auth.admin_headers())

    assert events()[-1] == ("customer_erased", response.json["data"])
    assert set(response.json["data"]) == {"customer_id", "uuid", "mode", "erased_at"}


def test_erasing_an_erased_customer_is_409(client, auth, events):
    customer = auth.create_customer()
    erase(client, customer, auth.admin_headers())
    before = events()

    response = erase(client, customer, auth.admin_headers())

    assert response.status_code == 409
    assert response.json == {
        "error": {"status": 409, "message": "This customer was already erased."}
    }
    assert events() == before


def test_erasing_an_unknown_customer_is_404(client, auth):
    response = client.post(
        "/api/customers/00000000-0000-4000-8000-000000000000/erase",
        headers=auth.admin_headers(),
    )

    assert response.status_code == 404


def test_customer_cannot_erase_through_the_admin_route(app, client, auth, events):
    customer = auth.create_customer()
    before = events()

    response = erase(client, customer, auth.customer_headers())

    assert response.status_code == 403
    assert row(app, customer)["email"] == EMAIL
    assert events() == before


def test_delete_mode_deletes_the_row_and_everything_with_it(make_app):
    app = make_app(CUSTOMER_ERASURE="delete")
    client = app.test_client()
    auth = Auth(app, client)
    customer = full_customer(client, auth, app)

    response = erase(client, customer, auth.admin_headers())

    assert response.json["data"]["mode"] == "delete"
    assert row(app, customer) is None
    assert everything(app) == ""
    with app.app_context():
        names = db.session.scalars(
            sa.text("SELECT name FROM event_outbox ORDER BY event_outbox_id")
        ).all()
        db.session.remove()
    assert list(names)[-2:] == ["customer_erased", "customer_deleted"]


# --- hooks --------------------------------------------------------------------------------


def test_customer_before_erase_veto_erases_nothing(app, client, auth, register_plugin, events):
    class OpenOrders:
        @hookimpl
        def customer_before_erase(self, customer, context):
            assert context.actor_type == "admin"
            raise Conflict(f"Customer {customer['customer_id']} has open orders.")

    customer = full_customer(client, auth, app)
    register_plugin(OpenOrders(), name="orders")
    before = (everything(app), events())

    response = erase(client, customer, auth.admin_headers())

    assert response.status_code == 409
    assert (
        response.json["error"]["message"] == f"Customer {customer['customer_id']} has open orders."
    )
    assert (everything(app), events()) == before


def test_customer_erase_hook_gets_the_customer_and_the_mode_in_the_transaction(
    app, client, auth, register_plugin
):
    seen = []

    class Crm:
        @hookimpl
        def customer_erase(self, customer, mode, context):
            # Inside the transaction: the row is not anonymised yet.
            email = db.session.scalar(
                sa.text("SELECT email FROM customer WHERE customer_id = :id"),
                {"id": customer["customer_id"]},
            )
            seen.append((customer["email"], mode, context.actor_type, email))

    customer = auth.create_customer()
    register_plugin(Crm(), name="crm")

    erase(client, customer, auth.admin_headers())

    assert seen == [(EMAIL, "anonymise", "admin", EMAIL)]


def test_customer_erase_hook_failure_rolls_the_erasure_back(app, client, auth, register_plugin):
    class Broken:
        @hookimpl
        def customer_erase(self, customer):
            raise RuntimeError("the CRM is down")

    customer = full_customer(client, auth, app)
    register_plugin(Broken(), name="broken")
    before = everything(app)

    response = erase(client, customer, auth.admin_headers())

    assert response.status_code == 500
    assert everything(app) == before


# --- the customer's own request -----------------------------------------------------------


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811
    app = make_app(
        EVENTS_DELIVERY="inline",
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        STOREFRONT_URL=STOREFRONT,
    )
    return app, app.test_client(), Auth(app, app.test_client())


def link_token(server, index: int = -1) -> str:
    (token,) = re.findall(LINK, server.messages[index].part("plain"))
    return token


def test_delete_request_emails_a_confirmation_link(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    customer = auth.create_customer()

    response = ask(client, auth.customer_headers())

    assert response.status_code == 200
    assert response.json == SUCCESS
    (message,) = smtp_server.messages
    assert message.rcpt_tos == [EMAIL]
    assert message.subject == "Confirm the deletion of your account"
    token = link_token(smtp_server)
    assert f'href="{STOREFRONT}/delete-account?token={token}"' in message.part("html")
    with app.app_context():
        stored = db.session.execute(sa.select(ErasureToken.customer_id, ErasureToken.token)).all()
        db.session.remove()
    assert [tuple(r) for r in stored] == [
        (customer["customer_id"], hashlib.sha256(token.encode()).hexdigest())
    ]
    assert row(app, customer)["email"] == EMAIL  # nothing erased before the confirmation


def test_delete_confirm_erases_the_account(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    customer = auth.create_customer()
    ask(client, auth.customer_headers())

    response = confirm(client, link_token(smtp_server))

    assert response.json == SUCCESS
    assert row(app, customer)["status"] == 0
    assert row(app, customer)["email"].endswith("@erased.invalid")
    assert count(app, "customer_erasure_token") == 0


def test_delete_confirm_erases_only_the_account_of_its_link(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    owner = auth.create_customer()
    ask(client, auth.customer_headers())
    other = auth.create_customer(email="other@example.com")
    other_headers = auth.customer_headers("other@example.com")

    response = client.post(
        "/api/customers/delete-confirm",
        json={"token": link_token(smtp_server)},
        headers=other_headers,
    )

    assert response.json == SUCCESS
    assert row(app, owner)["status"] == 0
    assert row(app, other)["email"] == "other@example.com"
    assert client.get("/api/customers/me", headers=other_headers).status_code == 200


def test_delete_confirm_with_a_used_token_is_refused(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    auth.create_customer()
    ask(client, auth.customer_headers())
    token = link_token(smtp_server)
    assert confirm(client, token).status_code == 200

    response = confirm(client, token)

    assert response.status_code == 400
    assert response.json == INVALID


def test_delete_confirm_with_an_expired_token_is_refused(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    customer = auth.create_customer()
    ask(client, auth.customer_headers())
    token = link_token(smtp_server)
    with app.app_context():
        db.session.execute(
            sa.update(ErasureToken).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
        db.session.commit()
        db.session.remove()

    response = confirm(client, token)

    assert response.json == INVALID
    assert row(app, customer)["email"] == EMAIL


def test_delete_confirm_with_an_unknown_token_is_refused(client):
    assert confirm(client, "x" * 43).json == INVALID


def test_older_confirmation_link_is_void_once_the_account_is_erased(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    auth.create_customer()
    headers = auth.customer_headers()
    ask(client, headers)
    first = link_token(smtp_server)
    ask(client, headers)
    assert confirm(client, link_token(smtp_server)).status_code == 200

    assert confirm(client, first).json == INVALID


def test_delete_confirm_veto_leaves_the_link_usable(mail_app, smtp_server):  # noqa: F811
    app, client, auth = mail_app
    customer = auth.create_customer()
    ask(client, auth.customer_headers())
    token = link_token(smtp_server)
    vetoes = [Conflict("Open orders.")]

    class Orders:
        @hookimpl
        def customer_before_erase(self):
            if vetoes:
                raise vetoes.pop()

    app.extensions["plugins"].register(Orders(), name="orders")
    try:
        assert confirm(client, token).status_code == 409
        assert row(app, customer)["email"] == EMAIL

        assert confirm(client, token).status_code == 200
    finally:
        app.extensions["plugins"].unregister(name="orders")


def test_delete_request_needs_a_customer_token(client, auth, events):
    auth.create_customer()

    response = ask(client, auth.admin_headers())

    assert response.status_code == 403
    assert [name for name, _ in events()] == ["customer_registered"]


def test_the_erasure_routes_are_documented(client):
    paths = client.get("/api/openapi.json").json["paths"]

    assert paths["/api/customers/{customer_uuid}/erase"]["post"]["security"] == [{"adminToken": []}]
    assert paths["/api/customers/me/delete-request"]["post"]["security"] == [{"customerToken": []}]
    assert paths["/api/customers/delete-confirm"]["post"]["security"] == []


def test_erasure_confirmation_emails_to_one_account_are_capped(make_app, smtp_server):  # noqa: F811
    app = make_app(
        EVENTS_DELIVERY="inline",
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        RATELIMIT_ENABLED=True,
        RATELIMIT_ERASURE_EMAILS="1/hour",
    )
    client = app.test_client()
    auth = Auth(app, client)
    auth.create_customer()
    headers = auth.customer_headers()
    assert ask(client, headers).json == SUCCESS

    response = ask(client, headers)

    assert response.json == SUCCESS
    assert len(smtp_server.messages) == 1
    assert count(app, "customer_erasure_token") == 1
