"""Password reset: the whole flow through a real SMTP server, from the request
to the email, the new password and the events; the password hash never
leaves."""

from __future__ import annotations

import base64
import json
import logging
import re

from tests.conftest import Auth
from tests.helpers import bearer
from tests.password_reset.conftest import (
    CUSTOMER_EMAIL,
    NEW_PASSWORD,
    OLD_PASSWORD,
    STOREFRONT,
    UNKNOWN_EMAIL,
    assert_password_is,
    assert_success,
    customer_now,
    login,
    outbox,
    password_hash,
    raw_table,
    request_reset,
    run_worker,
    set_password,
    sha256_hex,
    shown,
    token_by_log,
    token_by_mail,
    token_rows,
    tokens_in_log,
)

# --- the whole flow, through a real SMTP server -----------------------------------------


def test_reset_request_emails_the_customer_once_with_text_and_html_parts(
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    # When
    response = request_reset(mail_client, CUSTOMER_EMAIL)

    # Then
    assert_success(response)
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == [CUSTOMER_EMAIL]
    assert received.message["To"] == CUSTOMER_EMAIL
    assert received.subject == "Reset your password"
    # two renderings of one body, and nothing attached
    leaves = [part for part in received.message.walk() if not part.is_multipart()]
    assert [part.get_content_type() for part in leaves] == ["text/plain", "text/html"]
    [alternative] = [
        part
        for part in received.message.walk()
        if part.get_content_type() == "multipart/alternative"
    ]
    assert [part.get_content_type() for part in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_reset_email_links_to_the_storefront_with_the_token_in_both_parts(
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    # When
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL))

    # Then
    token = token_by_mail(smtp_server)
    link = f"{STOREFRONT}/reset-password?token={token}"
    received = smtp_server.messages[0]
    assert link in received.part("plain")
    assert f'href="{link}"' in received.part("html")


def test_reset_email_is_sent_for_the_email_in_another_letter_case(
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL.upper()))

    assert [received.rcpt_tos for received in smtp_server.messages] == [[CUSTOMER_EMAIL]]


def test_reset_token_is_url_safe_and_at_least_32_random_bytes(
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    # When
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL))
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL))

    # Then
    first, second = token_by_mail(smtp_server, 0), token_by_mail(smtp_server, 1)
    for token in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32
    assert first != second


def test_reset_stores_only_the_sha256_of_the_token(
    make_app,
    smtp_server,  # noqa: F811
):
    # Given the worker delivers, so that the events it writes stay to be read
    app = make_app(
        MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, STOREFRONT_URL=STOREFRONT
    )
    client = app.test_client()
    customer = Auth(app, client).create_customer()

    # When
    assert_success(request_reset(client, CUSTOMER_EMAIL))
    run_worker(app.test_cli_runner())

    # Then
    token = token_by_mail(smtp_server)
    assert token_rows(app) == [(customer["customer_id"], sha256_hex(token))]
    assert "reset_password_requested" in [row["name"] for row in outbox(app)]
    assert token not in raw_table(app, "reset_password_token")
    assert token not in raw_table(app, "event_outbox")


def test_new_password_with_the_emailed_token_answers_success(
    mail_app,
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    # Given
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL))
    token = token_by_mail(smtp_server)

    # When
    response = set_password(mail_client, token, NEW_PASSWORD)

    # Then
    assert_success(response)
    assert token_rows(mail_app) == []


def test_login_after_reset_takes_the_new_password_and_refuses_the_old(
    mail_client,
    mail_customer,
    smtp_server,  # noqa: F811
):
    # Given
    assert login(mail_client, password=OLD_PASSWORD).status_code == 200
    assert_success(request_reset(mail_client, CUSTOMER_EMAIL))

    # When
    assert_success(set_password(mail_client, token_by_mail(smtp_server), NEW_PASSWORD))

    # Then
    assert_password_is(mail_client, NEW_PASSWORD, refused=OLD_PASSWORD)


def test_reset_emits_reset_password_requested_with_the_customer(
    app, client, runner, caplog, customer, events
):
    # When
    token_by_log(client, runner, caplog)

    # Then
    assert events() == [("reset_password_requested", shown(customer))]


def test_reset_emits_the_password_events_with_the_customer_and_no_password(
    app, client, auth, runner, caplog, customer, events
):
    # Given
    token = token_by_log(client, runner, caplog)
    run_worker(runner)  # delivers reset_password_requested
    assert events() == []

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    # The password changes through the customer service, whose events say so too.
    written = events()
    now = customer_now(client, auth, customer)
    assert written == [
        ("customer_updated", now),
        ("customer_password_changed", now),
        ("password_updated", now),
    ]
    assert all("password" not in payload for _, payload in written)


# --- the hash never leaves -------------------------------------------------------------------


def test_reset_flow_never_shows_the_password_hash(app, client, auth, runner, caplog, events):
    # Given everything logged, and every event kept as it is written
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    payloads: list[dict] = []

    def answered(response):
        texts.append(response.get_data(as_text=True))
        texts.extend(f"{name}: {value}" for name, value in response.headers.items())
        return response

    def drain():
        payloads.extend(payload for _, payload in events())
        run_worker(runner)

    customer = auth.create_customer()
    old_hash = password_hash(app)
    tokens = answered(login(client)).json["data"]

    # When the whole flow runs
    answered(request_reset(client, CUSTOMER_EMAIL))
    answered(request_reset(client, UNKNOWN_EMAIL))
    drain()
    drain()
    [token] = tokens_in_log(caplog.records)
    answered(set_password(client, token, "short"))
    answered(set_password(client, token, NEW_PASSWORD))
    answered(set_password(client, token, NEW_PASSWORD))
    drain()
    new_tokens = answered(login(client, password=NEW_PASSWORD)).json["data"]
    answered(login(client, password=OLD_PASSWORD))
    answered(client.get("/api/customers/me", headers=bearer(tokens["accessToken"])))
    answered(client.get("/api/customers/me", headers=bearer(new_tokens["accessToken"])))
    answered(client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers()))
    new_hash = password_hash(app)

    # Then
    assert old_hash.startswith("$2b$") and new_hash.startswith("$2b$")
    assert old_hash != new_hash
    assert {p.get("email") for p in payloads} >= {CUSTOMER_EMAIL, UNKNOWN_EMAIL}
    log_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for where, text in (
        ("responses", "\n".join(texts)),
        ("events", json.dumps(payloads)),
        ("log", log_text),
    ):
        assert "$2b$" not in text, where
        assert old_hash not in text and new_hash not in text, where
