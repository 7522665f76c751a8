"""Password reset: the request (``POST /api/customers/reset-password``) refuses
a malformed body, answers and writes alike for every well-formed email, and
sends nothing where there is no active customer."""

from __future__ import annotations

import pytest

from tests.helpers import assert_field_error
from tests.password_reset.conftest import (
    CUSTOMER_EMAIL,
    DISABLED_EMAIL,
    MISSING,
    SUBMITTED,
    SUCCESS,
    UNKNOWN_EMAIL,
    assert_success,
    comparable_headers,
    customer_rows,
    outbox,
    request_reset,
    token_rows,
)

# --- POST /api/customers/reset-password: the body -----------------------------------


def test_reset_request_without_email_is_400(app, client, events):
    response = client.post("/api/customers/reset-password", json={})

    assert_field_error(response, "email", MISSING)
    assert events() == []


def test_reset_request_with_malformed_email_is_400(app, client, events):
    response = request_reset(client, "john.smith-at-example.com")

    assert_field_error(response, "email", "Not a valid email address.")
    assert events() == []


@pytest.mark.parametrize("sent", [5, True, ["john.smith@example.com"], {"a": 1}])
def test_reset_request_with_email_not_a_string_is_400(app, client, events, sent):
    response = request_reset(client, sent)

    assert_field_error(response, "email", "Not a valid email address.")
    assert events() == []


def test_reset_request_with_null_email_is_400(app, client, events):
    response = request_reset(client, None)

    assert_field_error(response, "email", "Field may not be null.")
    assert events() == []


def test_reset_request_with_unknown_field_is_400_naming_it(app, client, events):
    response = client.post(
        "/api/customers/reset-password", json={"email": CUSTOMER_EMAIL, "username": "john"}
    )

    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Unknown field(s): username.",
            "errors": [{"field": "username", "message": "Unknown field."}],
        }
    }
    assert events() == []


# --- no account enumeration -----------------------------------------------------------


def test_reset_request_answers_alike_for_known_unknown_disabled_and_other_case_emails(
    app, client, customer, disabled_customer
):
    # Given a baseline answer for an email nobody has
    baseline = request_reset(client, UNKNOWN_EMAIL)
    assert_success(baseline)

    # When
    answers = {
        email: request_reset(client, email)
        for email in (CUSTOMER_EMAIL, DISABLED_EMAIL, CUSTOMER_EMAIL.upper(), UNKNOWN_EMAIL)
    }

    # Then: the same status, bytes and headers, apart from the request id
    for email, response in answers.items():
        assert response.status_code == 200, email
        assert response.json == SUCCESS, email
        assert response.get_data() == baseline.get_data(), email
        assert comparable_headers(response) == comparable_headers(baseline), email


def test_reset_request_writes_one_submitted_event_alike_for_every_email(
    app, client, customer, disabled_customer
):
    # Given
    customers_before = customer_rows(app)
    written = {}

    # When
    for email in (CUSTOMER_EMAIL, UNKNOWN_EMAIL, DISABLED_EMAIL, CUSTOMER_EMAIL.upper()):
        before = {row["event_outbox_id"] for row in outbox(app)}
        assert_success(request_reset(client, email))
        written[email] = [row for row in outbox(app) if row["event_outbox_id"] not in before]

    # Then: the request path did the same work for each email (as normalised:
    # the domain in lower case), and nothing else
    for email, rows in written.items():
        local, domain = email.split("@")
        assert [{k: v for k, v in row.items() if k != "event_outbox_id"} for row in rows] == [
            {
                "name": SUBMITTED,
                "payload": {"email": f"{local}@{domain.lower()}"},
                "attempts": 0,
                "last_error": None,
                "delivered_to": [],
            }
        ], email
    assert token_rows(app) == []
    assert customer_rows(app) == customers_before


def test_reset_request_keeps_the_email_normalised_in_the_submitted_event(app, client, customer):
    response = request_reset(client, "  John.Smith@Example.COM ")

    assert_success(response)
    assert [row["payload"] for row in outbox(app) if row["name"] == SUBMITTED] == [
        {"email": "John.Smith@example.com"}
    ]


# --- no email where there is no active customer ----------------------------------------


def test_reset_request_for_an_unknown_email_sends_nothing_and_stores_no_token(
    mail_app,
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    response = request_reset(mail_client, UNKNOWN_EMAIL)

    assert_success(response)
    assert smtp_server.messages == []
    assert token_rows(mail_app) == []
    assert outbox(mail_app) == []  # delivered: nothing left to retry


def test_reset_request_for_a_disabled_customer_sends_nothing_and_stores_no_token(
    mail_app,
    mail_client,
    mail_auth,
    smtp_server,  # noqa: F811
):
    mail_auth.create_customer(email=DISABLED_EMAIL, status=0)

    response = request_reset(mail_client, DISABLED_EMAIL)

    assert_success(response)
    assert smtp_server.messages == []
    assert token_rows(mail_app) == []
    assert outbox(mail_app) == []
