"""Verified emails (docs/api.md, "Email verification"): a link on sign-up and on
a customer's own email change, sent through a real SMTP server; the link's
single use, expiry and scope; logins refused while unverified under
``required``; the resend endpoint's one answer and its limits; an admin's
marking; the status in REST and GraphQL.

Unless a test says otherwise, events are delivered inline and mail goes to the
SMTP server of tests/smtp.py.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db, utcnow
from app.plugins import contributions
from plugins.password.models import ResetPasswordToken
from plugins.verification.models import EmailVerification, EmailVerificationToken
from tests.helpers import count_statements, event_names
from tests.smtp import smtp_server, smtp_server_not_started  # noqa: F401 (fixtures)

hookimpl = pluggy.HookimplMarker("evershop")

STOREFRONT = "https://shop.example"
EMAIL = "jane.doe@example.com"
NEW_EMAIL = "jane.new@example.com"
PASSWORD = "jane-pass-123"
SUCCESS = {"data": {"success": True}}
TOKEN_INVALID = "Token is invalid or expired"
INVALID = {
    "error": {
        "status": 400,
        "message": TOKEN_INVALID,
        "errors": [{"field": "token", "message": TOKEN_INVALID}],
    }
}
UNVERIFIED = {
    "error": {
        "status": 403,
        "message": "Your email address is not verified: open the link we emailed you, or ask"
        " for a new one with POST /api/customers/verify-email/resend.",
    }
}
LINK = re.escape(STOREFRONT) + r"/verify-email\?token=([A-Za-z0-9_-]+)"


def mail_app(make_app, server, **config):
    return make_app(
        EVENTS_DELIVERY="inline",
        MAIL_SERVER=server.host,
        MAIL_PORT=server.port,
        STOREFRONT_URL=STOREFRONT,
        **config,
    )


@pytest.fixture
def app(make_app, smtp_server):  # noqa: F811
    return mail_app(make_app, smtp_server)


@pytest.fixture
def events(app, register_plugin):
    """The names and payloads of the events delivered (inline: right after
    each commit), oldest first."""
    with app.app_context():
        found = contributions(app.extensions["plugins"], "register_events")
    names = [event.name for declared in found.values() for event in declared]
    received = []

    class Recorder:
        @hookimpl
        def subscribe(self):
            return {name: received.append for name in names}

    register_plugin(Recorder(), name="recorder")
    return lambda: [(event.name, event.payload) for event in received]


# --- requests -----------------------------------------------------------------------


def sign_up(client, email=EMAIL, password=PASSWORD):
    response = client.post(
        "/api/customers", json={"email": email, "password": password, "full_name": "Jane Doe"}
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def verify(client, token, headers=None):
    return client.post("/api/customers/verify-email", json={"token": token}, headers=headers)


def resend(client, email=EMAIL):
    return client.post("/api/customers/verify-email/resend", json={"email": email})


def login(client, email=EMAIL, password=PASSWORD):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


def bearer(client, email=EMAIL, password=PASSWORD) -> dict:
    response = login(client, email, password)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['data']['accessToken']}"}


def change_email(client, headers, email=NEW_EMAIL):
    response = client.patch("/api/customers/me", json={"email": email}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def read(client, auth, customer) -> dict:
    response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return response.json["data"]


# --- mail and the database ------------------------------------------------------------


def link_token(server, index: int = -1) -> str:
    (token,) = re.findall(LINK, server.messages[index].part("plain"))
    return token


def token_rows(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                EmailVerificationToken.customer_id,
                EmailVerificationToken.purpose,
                EmailVerificationToken.email,
                EmailVerificationToken.token,
            ).order_by(EmailVerificationToken.customer_email_token_id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def state(app, customer_id: int) -> tuple | None:
    with app.app_context():
        row = db.session.get(EmailVerification, customer_id)
        found = (row.verified_email, row.pending_email) if row else None
        db.session.remove()
    return found


def stored_email(app, customer) -> str:
    with app.app_context():
        email = db.session.scalar(
            sa.text("SELECT email FROM customer WHERE customer_id = :id"),
            {"id": customer["customer_id"]},
        )
        db.session.remove()
    return email


def age_links(app, seconds: int) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(EmailVerificationToken).values(
                created_at=utcnow() - timedelta(seconds=seconds)
            )
        )
        db.session.commit()
        db.session.remove()


# --- sign-up --------------------------------------------------------------------------


def test_signup_emails_a_verification_link_with_text_and_html_parts(client, smtp_server):  # noqa: F811
    sign_up(client)

    (message,) = smtp_server.messages
    assert message.rcpt_tos == [EMAIL]
    assert message.subject == "Confirm your email address"
    token = link_token(smtp_server)
    link = f"{STOREFRONT}/verify-email?token={token}"
    assert link in message.part("plain")
    assert f'href="{link}"' in message.part("html")


def test_signup_link_token_is_stored_only_as_its_sha256(app, client, smtp_server):  # noqa: F811
    customer = sign_up(client)

    token = link_token(smtp_server)
    assert len(token) >= 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token_rows(app) == [(customer["customer_id"], "verify", EMAIL, digest)]


def test_customer_created_by_an_admin_gets_no_verification_email(app, auth, smtp_server):  # noqa: F811
    auth.create_customer(email=EMAIL)

    assert smtp_server.messages == []
    assert token_rows(app) == []


def test_new_customer_is_unverified_in_rest_and_graphql(client, auth):
    customer = sign_up(client)

    assert customer["email_verified"] is False
    assert customer["pending_email"] is None
    query = f'{{ customer(id: "{customer["uuid"]}") {{ emailVerified pendingEmail }} }}'
    response = client.post(
        "/api/admin/graphql", json={"query": query}, headers=auth.admin_headers()
    )
    assert response.json == {"data": {"customer": {"emailVerified": False, "pendingEmail": None}}}


# --- opening the link -----------------------------------------------------------------


def test_verify_email_marks_the_customer_verified(app, client, auth, smtp_server, events):  # noqa: F811
    customer = sign_up(client)

    response = verify(client, link_token(smtp_server))

    assert response.status_code == 200
    assert response.json == SUCCESS
    assert read(client, auth, customer)["email_verified"] is True
    assert state(app, customer["customer_id"]) == (EMAIL, None)
    assert token_rows(app) == []
    names = event_names(events)
    assert names[-1] == "customer_email_verified"
    assert events()[-1][1]["email_verified"] is True


def test_verified_status_shows_in_the_storefront_graphql(client, smtp_server):  # noqa: F811
    sign_up(client)
    assert verify(client, link_token(smtp_server)).status_code == 200

    response = client.post(
        "/api/graphql",
        json={"query": "{ currentCustomer { email emailVerified } }"},
        headers=bearer(client),
    )

    assert response.json == {"data": {"currentCustomer": {"email": EMAIL, "emailVerified": True}}}


def test_verification_link_cannot_be_used_twice(app, client, auth, smtp_server, events):  # noqa: F811
    customer = sign_up(client)
    token = link_token(smtp_server)
    assert verify(client, token).status_code == 200
    before = events()

    response = verify(client, token)

    assert response.status_code == 400
    assert response.json == INVALID
    assert events() == before
    assert read(client, auth, customer)["email_verified"] is True


def test_expired_verification_link_is_refused_and_changes_nothing(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
    events,
):
    customer = sign_up(client)
    token = link_token(smtp_server)
    age_links(app, 48 * 3600 + 1)
    before = events()

    response = verify(client, token)

    assert response.json == INVALID
    assert read(client, auth, customer)["email_verified"] is False
    assert events() == before


def test_verification_link_within_its_lifetime_works(app, client, smtp_server):  # noqa: F811
    sign_up(client)
    token = link_token(smtp_server)
    age_links(app, 48 * 3600 - 60)

    assert verify(client, token).status_code == 200


def test_unknown_verification_token_is_refused(client, events):
    before = events()

    response = verify(client, "A" * 43)

    assert response.json == INVALID
    assert events() == before


def test_overlong_verification_token_is_refused(client):
    assert verify(client, "A" * 5000).json == INVALID


def test_verification_link_verifies_only_its_own_account_whoever_sends_it(
    client,
    auth,
    smtp_server,  # noqa: F811
):
    owner = sign_up(client)
    token = link_token(smtp_server)
    other = sign_up(client, email="other@example.com")

    response = verify(client, token, headers=bearer(client, "other@example.com"))

    assert response.status_code == 200
    assert read(client, auth, owner)["email_verified"] is True
    assert read(client, auth, other)["email_verified"] is False


def test_verification_link_is_refused_after_the_email_changed_again(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
    events,
):
    # Given a sign-up link, then an admin's change of the address
    customer = sign_up(client)
    token = link_token(smtp_server)
    patched = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email": "moved@example.com"},
        headers=auth.admin_headers(),
    )
    assert patched.status_code == 200, patched.json
    before = events()

    # When the old link is opened
    response = verify(client, token)

    # Then the new address is not verified by it
    assert response.json == INVALID
    assert read(client, auth, customer)["email_verified"] is False
    assert events() == before


def test_link_of_a_disabled_customer_is_refused(client, auth, smtp_server):  # noqa: F811
    customer = sign_up(client)
    token = link_token(smtp_server)
    client.patch(
        f"/api/customers/{customer['uuid']}", json={"status": 0}, headers=auth.admin_headers()
    )

    assert verify(client, token).json == INVALID
    assert read(client, auth, customer)["email_verified"] is False


# --- the customer's own email change --------------------------------------------------


def test_customer_email_change_waits_for_the_new_address(app, client, smtp_server, events):  # noqa: F811
    customer = sign_up(client)
    headers = bearer(client)

    answer = change_email(client, headers)

    assert (answer["email"], answer["pending_email"]) == (EMAIL, NEW_EMAIL)
    assert stored_email(app, customer) == EMAIL
    assert [m.rcpt_tos for m in smtp_server.messages] == [[EMAIL], [NEW_EMAIL]]
    assert smtp_server.messages[-1].subject == "Confirm your new email address"
    assert event_names(events)[-1] == "customer_email_change_requested"
    assert login(client).status_code == 200


def test_confirming_an_email_change_applies_it_and_tells_the_old_address(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
    events,
):
    customer = sign_up(client)
    change_email(client, bearer(client))

    response = verify(client, link_token(smtp_server))

    assert response.json == SUCCESS
    now = read(client, auth, customer)
    assert (now["email"], now["email_verified"], now["pending_email"]) == (NEW_EMAIL, True, None)
    notice = smtp_server.messages[-1]
    assert notice.rcpt_tos == [EMAIL]
    assert notice.subject == "The email address of your account changed"
    assert NEW_EMAIL in notice.part("plain")
    assert event_names(events)[-3:] == [
        "customer_updated",
        "customer_email_verified",
        "customer_email_changed",
    ]
    assert events()[-1][1]["previous_email"] == EMAIL
    assert login(client, NEW_EMAIL).status_code == 200
    assert login(client, EMAIL).status_code == 401


def test_confirmed_email_change_voids_the_reset_links_of_the_old_address(
    app,
    client,
    smtp_server,  # noqa: F811
):
    customer = sign_up(client)
    change_email(client, bearer(client))
    change_link = link_token(smtp_server)
    assert client.post("/api/customers/reset-password", json={"email": EMAIL}).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ResetPasswordToken)) == 1
        db.session.remove()

    assert verify(client, change_link).status_code == 200

    with app.app_context():
        left = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ResetPasswordToken)
            .where(ResetPasswordToken.customer_id == customer["customer_id"])
        )
        db.session.remove()
    assert left == 0


def test_link_of_a_replaced_email_change_is_refused(app, client, auth, smtp_server):  # noqa: F811
    customer = sign_up(client)
    headers = bearer(client)
    change_email(client, headers, "first.choice@example.com")
    first = link_token(smtp_server)
    change_email(client, headers, "second.choice@example.com")
    second = link_token(smtp_server)

    assert verify(client, first).json == INVALID
    assert read(client, auth, customer)["email"] == EMAIL
    assert verify(client, second).status_code == 200
    assert read(client, auth, customer)["email"] == "second.choice@example.com"


def test_email_change_link_cannot_be_used_twice(client, auth, smtp_server):  # noqa: F811
    customer = sign_up(client)
    change_email(client, bearer(client))
    token = link_token(smtp_server)
    assert verify(client, token).status_code == 200

    assert verify(client, token).json == INVALID
    assert read(client, auth, customer)["email"] == NEW_EMAIL


def test_email_change_to_an_address_taken_meanwhile_is_409_and_keeps_the_link(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
):
    customer = sign_up(client)
    change_email(client, bearer(client))
    token = link_token(smtp_server)
    auth.create_customer(email=NEW_EMAIL)

    response = verify(client, token)

    assert response.status_code == 409
    assert response.json == {"error": {"status": 409, "message": "Email is already used"}}
    assert stored_email(app, customer) == EMAIL
    assert [row[1:3] for row in token_rows(app)] == [("verify", EMAIL), ("change", NEW_EMAIL)]


def test_customer_with_its_name_and_email_changes_the_name_at_once(client, smtp_server):  # noqa: F811
    sign_up(client)
    response = client.patch(
        "/api/customers/me",
        json={"full_name": "Jane Q. Doe", "email": NEW_EMAIL},
        headers=bearer(client),
    )

    data = response.json["data"]
    assert (data["full_name"], data["email"], data["pending_email"]) == (
        "Jane Q. Doe",
        EMAIL,
        NEW_EMAIL,
    )


def test_admin_email_change_applies_at_once_unverified_and_sends_nothing(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
):
    customer = auth.create_customer(email=EMAIL, email_verified=True)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email": NEW_EMAIL},
        headers=auth.admin_headers(),
    )

    data = response.json["data"]
    assert (data["email"], data["email_verified"]) == (NEW_EMAIL, False)
    assert smtp_server.messages == []


def test_email_changes_apply_at_once_when_verification_is_off(make_app, smtp_server):  # noqa: F811
    app = mail_app(make_app, smtp_server, CUSTOMER_EMAIL_VERIFICATION="off")
    client = app.test_client()
    customer = sign_up(client)

    answer = change_email(client, bearer(client))

    assert (answer["email"], answer["pending_email"]) == (NEW_EMAIL, None)
    assert stored_email(app, customer) == NEW_EMAIL
    assert smtp_server.messages == []


# --- an admin's marking ---------------------------------------------------------------


def test_admin_marks_an_email_verified(client, auth, events):
    customer = auth.create_customer(email=EMAIL)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email_verified": True},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200
    assert response.json["data"]["email_verified"] is True
    assert event_names(events)[-2:] == ["customer_updated", "customer_email_verified"]


def test_an_update_reads_the_verification_row_once(app, client, auth):
    # The presentations before and after the change show the same row: the
    # write keeps what it read (docs/plugins.md, "Fields").
    customer = auth.create_customer(email=EMAIL, email_verified=True)
    headers = auth.admin_headers()

    response, statements = count_statements(
        app,
        lambda: client.patch(
            f"/api/customers/{customer['uuid']}", json={"full_name": "Jane D"}, headers=headers
        ),
    )

    assert response.status_code == 200
    assert response.json["data"]["email_verified"] is True
    # In the customer's own locked read (EntityField read_with).
    assert sum("customer_email_verification" in sql for sql in statements) == 1


def test_a_new_customer_is_shown_unverified_without_reading_verification_rows(
    app, client, auth, events
):
    # Just inserted, nothing can refer to it yet (docs/plugins.md, "Fields").
    headers = auth.admin_headers()
    body = {"email": EMAIL, "password": "customer-pass-1", "full_name": "Jane Doe"}

    response, statements = count_statements(
        app, lambda: client.post("/api/customers", json=body, headers=headers)
    )

    assert response.status_code == 201, response.json
    assert response.json["data"]["email_verified"] is False
    assert response.json["data"]["pending_email"] is None
    assert not [sql for sql in statements if "FROM customer_email_verification" in sql]
    registered = [payload for name, payload in events() if name == "customer_registered"]
    assert registered[-1]["email_verified"] is False


def test_a_customer_created_verified_is_shown_verified(app, client, auth, events):
    # The field's save writes the row in the create: the answer and the
    # event show it, not the absence the new row started with.
    response = client.post(
        "/api/customers",
        json={
            "email": EMAIL,
            "password": "customer-pass-1",
            "full_name": "Jane Doe",
            "email_verified": True,
        },
        headers=auth.admin_headers(),
    )

    assert response.status_code == 201, response.json
    assert response.json["data"]["email_verified"] is True
    registered = [payload for name, payload in events() if name == "customer_registered"]
    assert registered[-1]["email_verified"] is True
    with app.app_context():
        assert db.session.get(EmailVerification, response.json["data"]["customer_id"])


def test_a_vetoed_email_change_leaves_nothing_pending_for_the_next_update(
    client,
    register_plugin,
    smtp_server,  # noqa: F811
):
    # The verification plugin keeps the rows of a write for that write only:
    # a veto after it recorded the pending change rolls all of it back.
    from app.errors import Conflict

    class Veto:
        active = True

        @hookimpl(trylast=True)
        def customer_before_update(self, customer, data, context):
            if self.active:
                raise Conflict("Changes are paused.")

    sign_up(client)
    headers = bearer(client)
    veto = register_plugin(Veto(), name="veto")
    vetoed = client.patch("/api/customers/me", json={"email": NEW_EMAIL}, headers=headers)
    veto.active = False

    renamed = client.patch("/api/customers/me", json={"full_name": "Jane D"}, headers=headers)

    assert vetoed.status_code == 409
    assert renamed.status_code == 200
    assert renamed.json["data"]["pending_email"] is None
    assert renamed.json["data"]["email"] == EMAIL


def test_admin_unmarks_an_email(client, auth):
    customer = auth.create_customer(email=EMAIL, email_verified=True)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email_verified": False},
        headers=auth.admin_headers(),
    )

    assert response.json["data"]["email_verified"] is False


def test_admin_changes_an_email_and_marks_the_new_one_verified_in_one_update(app, client, auth):
    customer = auth.create_customer(email=EMAIL)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email": NEW_EMAIL, "email_verified": True},
        headers=auth.admin_headers(),
    )

    assert response.json["data"]["email_verified"] is True
    assert state(app, customer["customer_id"]) == (NEW_EMAIL, None)


def test_admin_creates_a_customer_already_verified(client, auth, events):
    customer = auth.create_customer(email=EMAIL, email_verified=True)

    assert customer["email_verified"] is True
    assert event_names(events) == ["customer_registered", "customer_email_verified"]


@pytest.mark.parametrize("value", ["yes", "true", 1, None])
def test_email_verified_takes_only_true_or_false(app, client, auth, value):
    customer = auth.create_customer(email=EMAIL)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email_verified": value},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"][0]["field"] == "email_verified"
    assert state(app, customer["customer_id"]) is None


def test_customer_cannot_mark_its_own_email_verified(app, client):
    customer = sign_up(client)

    response = client.patch(
        "/api/customers/me", json={"email_verified": True}, headers=bearer(client)
    )

    assert response.status_code == 400
    assert response.json["error"]["message"] == "Unknown field(s): email_verified."
    assert state(app, customer["customer_id"]) is None


# --- logins under "required" -------------------------------------------------------------


@pytest.fixture
def required(make_app, smtp_server):  # noqa: F811
    app = mail_app(make_app, smtp_server, CUSTOMER_EMAIL_VERIFICATION="required")
    return app, app.test_client()


def test_customer_login_allowed_refuses_an_unverified_account_when_required(required):
    _, client = required
    sign_up(client)

    response = login(client)

    assert response.status_code == 403
    assert response.json == UNVERIFIED
    assert "WWW-Authenticate" not in response.headers


def test_customer_login_allowed_lets_a_verified_account_in_when_required(required, smtp_server):  # noqa: F811
    _, client = required
    sign_up(client)
    assert verify(client, link_token(smtp_server)).status_code == 200

    response = login(client)

    assert response.status_code == 200
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_wrong_password_of_an_unverified_account_is_the_usual_401_when_required(required):
    _, client = required
    sign_up(client)

    response = login(client, password="wrong-password-1")

    assert response.status_code == 401
    assert response.json["error"]["message"] == "Invalid email or password"


def test_unverified_account_logs_in_when_verification_is_optional(client):
    sign_up(client)

    assert login(client).status_code == 200


def test_plugin_customer_login_allowed_veto_is_its_status_and_message(
    client, register_plugin, events
):
    from app.errors import Forbidden

    class Closed:
        @hookimpl
        def customer_login_allowed(self, customer, context):
            assert customer["email"] == EMAIL and context.actor_type is None
            raise Forbidden("Logins are paused for maintenance.")

    sign_up(client)
    register_plugin(Closed(), name="closed")

    response = login(client)

    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "Logins are paused for maintenance."}
    }


# --- asking for a new link ------------------------------------------------------------


def test_resend_emails_a_new_link_to_an_unverified_customer(client, smtp_server):  # noqa: F811
    sign_up(client)

    response = resend(client)

    assert response.json == SUCCESS
    assert [m.rcpt_tos for m in smtp_server.messages] == [[EMAIL], [EMAIL]]
    assert verify(client, link_token(smtp_server)).status_code == 200


def test_resend_gives_one_answer_for_every_email_and_mails_only_the_unverified(
    app,
    client,
    auth,
    smtp_server,  # noqa: F811
):
    auth.create_customer(email="verified@example.com", email_verified=True)
    auth.create_customer(email="unverified@example.com")
    auth.create_customer(email="disabled@example.com", status=0)

    answers = [
        resend(client, email)
        for email in (
            "unknown@example.com",
            "verified@example.com",
            "unverified@example.com",
            "disabled@example.com",
        )
    ]

    assert {(r.status_code, r.get_data(as_text=True)) for r in answers} == {
        (200, answers[0].get_data(as_text=True))
    }
    assert answers[0].json == SUCCESS
    assert [m.rcpt_tos for m in smtp_server.messages] == [["unverified@example.com"]]


def test_resend_sends_the_pending_change_link_again(client, smtp_server):  # noqa: F811
    sign_up(client)
    change_email(client, bearer(client))

    resend(client)

    assert [m.rcpt_tos for m in smtp_server.messages] == [[EMAIL], [NEW_EMAIL], [NEW_EMAIL]]


def test_resend_with_an_invalid_email_is_400(client, events):
    response = resend(client, "not-an-email")

    assert response.status_code == 400
    assert response.json["error"]["errors"][0]["field"] == "email"
    assert events() == []


def test_resend_is_rate_limited_per_client_address_whatever_the_email(
    make_app,
    smtp_server,  # noqa: F811
):
    app = mail_app(make_app, smtp_server, RATELIMIT_ENABLED=True, RATELIMIT_VERIFY_EMAIL="2/minute")
    client = app.test_client()
    assert resend(client, "a@example.com").status_code == 200
    assert resend(client, "b@example.com").status_code == 200

    response = resend(client, "c@example.com")

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json["error"]["status"] == 429


def test_verification_emails_to_one_account_are_capped_with_the_same_answer(
    make_app,
    smtp_server,  # noqa: F811
):
    app = mail_app(make_app, smtp_server, RATELIMIT_ENABLED=True, RATELIMIT_VERIFY_EMAILS="2/hour")
    client = app.test_client()
    sign_up(client)
    assert resend(client).json == SUCCESS

    response = resend(client)

    assert response.json == SUCCESS
    assert len(smtp_server.messages) == 2


def test_resend_sends_nothing_when_verification_is_off(make_app, smtp_server, events):  # noqa: F811
    app = mail_app(make_app, smtp_server, CUSTOMER_EMAIL_VERIFICATION="off")
    client = app.test_client()
    sign_up(client)

    response = resend(client)

    assert response.json == SUCCESS
    assert smtp_server.messages == []


# --- the mail server ------------------------------------------------------------------


def test_link_is_sent_when_the_mail_server_comes_back(make_app, smtp_server_not_started):  # noqa: F811
    # Given a mail server that refuses connections at sign-up
    server = smtp_server_not_started
    app = mail_app(make_app, server, EVENTS_RETRY_DELAY=0)
    client = app.test_client()
    sign_up(client)
    assert token_rows(app) == []  # the unsent link's token is not kept

    # When it is back and the event worker retries
    server.start()
    result = app.test_cli_runner().invoke(args=["events", "run", "--once"])

    # Then the link arrives, and works
    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in server.messages] == [[EMAIL]]
    assert verify(client, link_token(server)).status_code == 200


def test_cancelled_verification_email_keeps_no_token(app, client, register_plugin, smtp_server):  # noqa: F811
    class Quiet:
        @hookimpl
        def mail_before_send(self, message):
            if message.template == "verify_email":
                message.cancel("the shop verifies by phone")

    register_plugin(Quiet(), name="quiet")

    sign_up(client)

    assert smtp_server.messages == []
    assert token_rows(app) == []


# --- the OpenAPI document -------------------------------------------------------------


def test_the_verification_fields_are_documented_on_customers(client):
    document = client.get("/api/openapi.json").json
    schemas = document["components"]["schemas"]

    assert schemas["Customer"]["properties"]["email_verified"]["type"] == "boolean"
    assert schemas["Customer"]["properties"]["pending_email"]["x-plugin"] == "verification"
    assert "email_verified" in schemas["CustomerUpdate"]["properties"]
    assert "email_verified" not in schemas["SelfUpdate"]["properties"]
    assert "/api/customers/verify-email" in document["paths"]
    assert "/api/customers/verify-email/resend" in document["paths"]
