"""Password reset: the email once the mail server is back, in the log without
a mail server, and with a store's own templates."""

from __future__ import annotations

import logging
import re

from tests.conftest import Auth
from tests.password_reset.conftest import (
    CUSTOMER_EMAIL,
    NEW_PASSWORD,
    OLD_PASSWORD,
    STOREFRONT,
    SUBMITTED,
    TOKEN_IN_LINK,
    assert_password_is,
    assert_success,
    outbox,
    request_reset,
    run_worker,
    set_password,
    token_by_mail,
    token_rows,
)

# --- the mail server is down, then back -------------------------------------------------


def test_reset_email_is_delivered_once_the_mail_server_is_back(
    make_app,
    smtp_server_not_started,  # noqa: F811
):
    # Given no SMTP server listening on MAIL_PORT
    server = smtp_server_not_started
    app = make_app(
        EVENTS_DELIVERY="inline",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=server.host,
        MAIL_PORT=server.port,
        STOREFRONT_URL=STOREFRONT,
    )
    client = app.test_client()
    Auth(app, client).create_customer()

    # When the reset is requested
    response = request_reset(client, CUSTOMER_EMAIL)

    # Then the client is answered as always, and the event waits in the outbox
    assert_success(response)
    assert server.messages == []
    assert token_rows(app) == []
    [waiting] = outbox(app)
    assert waiting["name"] == SUBMITTED
    assert waiting["payload"] == {"email": CUSTOMER_EMAIL}
    assert waiting["attempts"] == 1
    assert waiting["last_error"]

    # When the server is back and the worker runs
    server.start()
    run_worker(app.test_cli_runner())

    # Then one email, a working token, and nothing left in the outbox
    assert len(server.messages) == 1
    assert server.messages[0].rcpt_tos == [CUSTOMER_EMAIL]
    assert outbox(app) == []
    assert_success(set_password(client, token_by_mail(server), NEW_PASSWORD))
    assert_password_is(client, NEW_PASSWORD, refused=OLD_PASSWORD)


# --- development: no mail server ----------------------------------------------------------


def test_reset_email_is_written_to_the_log_without_a_mail_server(make_app, caplog):
    # Given
    app = make_app(STOREFRONT_URL=STOREFRONT)
    assert app.config["MAIL_SERVER"] is None
    client = app.test_client()
    Auth(app, client).create_customer()
    caplog.set_level(logging.INFO, logger="app.mail")

    # When
    assert_success(request_reset(client, CUSTOMER_EMAIL))
    run_worker(app.test_cli_runner())

    # Then
    logged = [r.getMessage() for r in caplog.records if r.name == "app.mail"]
    assert len(logged) == 1
    [token] = re.findall(re.escape(STOREFRONT) + TOKEN_IN_LINK, logged[0])
    assert CUSTOMER_EMAIL in logged[0]
    assert f"{STOREFRONT}/reset-password?token={token}" in logged[0]
    assert_success(set_password(client, token, NEW_PASSWORD))


# --- a store's own templates ----------------------------------------------------------------


def test_reset_email_subject_comes_from_the_store_templates(
    make_app,
    tmp_path,
    smtp_server,  # noqa: F811
):
    # Given
    (tmp_path / "reset_password_subject.txt").write_text("Your Shop: new password\n")
    app = make_app(
        EVENTS_DELIVERY="inline",
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        MAIL_TEMPLATES_DIR=str(tmp_path),
        STOREFRONT_URL=STOREFRONT,
    )
    client = app.test_client()
    Auth(app, client).create_customer()

    # When
    assert_success(request_reset(client, CUSTOMER_EMAIL))

    # Then the subject is the store's, the bodies still the plugin's
    [received] = smtp_server.messages
    assert received.subject == "Your Shop: new password"
    token = token_by_mail(smtp_server)
    assert f"{STOREFRONT}/reset-password?token={token}" in received.part("html")
