"""Rate limits: public sign-up, reset-password requests per address, and the
cap on reset emails per account."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import db
from tests.conftest import Auth
from tests.ratelimits.conftest import (
    CUSTOMER_EMAIL,
    CUSTOMERS,
    HIGH,
    OTHER_EMAIL,
    OTHER_PASSWORD,
    SUCCESS,
    assert_limit_headers,
    assert_too_many,
    customer_emails,
    outbox_names,
    request_reset,
    setup_auth,
    signup,
)

# --- public sign-up -----------------------------------------------------------------


def test_third_public_signup_from_one_address_is_429_and_creates_nothing(limited):
    # Given two sign-ups a hour, both spent
    app = limited(RATELIMIT_SIGNUP="2/hour")
    client = app.test_client()
    first = signup(client, "first@example.com")
    second = signup(client, "second@example.com")
    assert [first.status_code, second.status_code] == [201, 201]
    assert_limit_headers(second, limit=2, remaining=0, window=3600)

    # When a third visitor signs up from the same address
    response = signup(client, "third@example.com")

    # Then
    assert_too_many(response, window=3600)
    assert "Location" not in response.headers
    assert customer_emails(app) == ["first@example.com", "second@example.com"]
    assert outbox_names(app) == [
        "customer_registered",
        "customer_email_verification_requested",
        "customer_registered",
        "customer_email_verification_requested",
    ]


def test_admin_creates_are_not_limited_by_the_signup_limit(limited):
    # Given the address's sign-ups spent
    app = limited(RATELIMIT_SIGNUP="2/hour", RATELIMIT_TOKENS=HIGH)
    client = app.test_client()
    assert signup(client, "first@example.com").status_code == 201
    assert signup(client, "second@example.com").status_code == 201
    headers = Auth(app, client).admin_headers()

    # When an admin creates three customers from the same address
    responses = [
        client.post(
            CUSTOMERS,
            json={"email": email, "password": "admin-made-pass-1", "full_name": "Made"},
            headers=headers,
        )
        for email in ("a@example.com", "b@example.com", "c@example.com")
    ]

    # Then
    assert [response.status_code for response in responses] == [201, 201, 201]
    assert customer_emails(app) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "first@example.com",
        "second@example.com",
    ]


def test_admin_creates_do_not_spend_the_signup_budget(limited):
    # Given an admin who creates three customers
    app = limited(RATELIMIT_SIGNUP="2/hour", RATELIMIT_TOKENS=HIGH)
    client = app.test_client()
    auth = Auth(app, client)
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        auth.create_customer(email=email)

    # When visitors then sign up from the same address
    first = signup(client, "first@example.com")
    second = signup(client, "second@example.com")

    # Then they still have the whole budget
    assert [first.status_code, second.status_code] == [201, 201]


# --- reset-password requests ----------------------------------------------------------


def test_reset_requests_over_the_limit_per_address_are_429_and_record_nothing(limited):
    # Given three reset requests a minute, all spent
    app = limited(RATELIMIT_RESET="3/minute")
    client = app.test_client()
    answers = [request_reset(client, f"user{number}@example.com") for number in range(3)]
    assert [(answer.status_code, answer.json) for answer in answers] == [(200, SUCCESS)] * 3
    assert_limit_headers(answers[-1], limit=3, remaining=0)

    # When a fourth is made
    response = request_reset(client, "user3@example.com")

    # Then it is refused, and no reset is recorded for it
    assert_too_many(response)
    assert outbox_names(app) == ["reset_password_submitted"] * 3


def test_reset_limit_per_address_leaves_another_address_its_own(limited):
    # Given
    app = limited(RATELIMIT_RESET="3/minute")
    spent = app.test_client()
    for _ in range(3):
        request_reset(spent, CUSTOMER_EMAIL)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.30"

    # When
    response = request_reset(other, CUSTOMER_EMAIL)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS


@pytest.fixture
def mail_app(limited, smtp_server):  # noqa: F811 (the imported fixture)
    """Events delivered as they commit, mail to the test SMTP server, and at
    most two reset emails an hour per account."""
    return limited(
        EVENTS_DELIVERY="inline",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        RATELIMIT_RESET_EMAILS="2/hour",
        RATELIMIT_TOKENS=HIGH,
    )


def test_reset_emails_to_one_account_stop_at_the_cap_with_the_same_answers(
    mail_app,
    smtp_server,  # noqa: F811
):
    # Given a customer
    setup_auth(mail_app).create_customer()
    client = mail_app.test_client()

    # When three resets are asked for it
    answers = [request_reset(client, CUSTOMER_EMAIL) for _ in range(3)]

    # Then all three answers are the same, but only two emails go out
    for answer in answers:
        assert answer.status_code == 200, answer.json
        assert answer.json == SUCCESS
        assert answer.get_data() == answers[0].get_data()
    assert [received.rcpt_tos for received in smtp_server.messages] == [[CUSTOMER_EMAIL]] * 2


def test_reset_email_cap_counts_the_email_whatever_its_letter_case(
    mail_app,
    smtp_server,  # noqa: F811
):
    # Given
    setup_auth(mail_app).create_customer()
    client = mail_app.test_client()

    # When
    for email in (CUSTOMER_EMAIL, CUSTOMER_EMAIL.upper(), "John.Smith@Example.com"):
        assert request_reset(client, email).json == SUCCESS

    # Then
    assert [received.rcpt_tos for received in smtp_server.messages] == [[CUSTOMER_EMAIL]] * 2


def test_reset_email_cap_of_one_account_leaves_another_its_email(
    mail_app,
    smtp_server,  # noqa: F811
):
    # Given a customer whose reset emails reached the cap
    setup = setup_auth(mail_app)
    setup.create_customer()
    setup.create_customer(email=OTHER_EMAIL, password=OTHER_PASSWORD, full_name="Jane Doe")
    client = mail_app.test_client()
    for _ in range(3):
        assert request_reset(client, CUSTOMER_EMAIL).json == SUCCESS

    # When another customer asks for a reset
    response = request_reset(client, OTHER_EMAIL)

    # Then it gets its email
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS
    assert [received.rcpt_tos for received in smtp_server.messages] == [
        [CUSTOMER_EMAIL],
        [CUSTOMER_EMAIL],
        [OTHER_EMAIL],
    ]


def test_reset_email_cap_stores_no_token_beyond_it(
    mail_app,
    smtp_server,  # noqa: F811
):
    # Given
    customer = setup_auth(mail_app).create_customer()
    client = mail_app.test_client()

    # When
    for _ in range(3):
        request_reset(client, CUSTOMER_EMAIL)

    # Then a token for each email sent, none for the one held back
    with mail_app.app_context():
        owners = db.session.scalars(sa.text("SELECT customer_id FROM reset_password_token")).all()
        db.session.remove()
    assert list(owners) == [customer["customer_id"]] * 2
    assert len(smtp_server.messages) == 2
