"""Password reset (docs/api.md, "Password reset" and "Events"): the request,
the email, the new password.

The request answers and writes alike for every well-formed email; the password
plugin's subscriber then stores a token's SHA-256 and mails the link. Tests that
read the outbox keep the default ``EVENTS_DELIVERY="worker"`` and run the
worker themselves; with no ``MAIL_SERVER`` the email is written to the log,
where those tests read the link. Tests about the email itself send it to a real
SMTP server on a loopback port (tests/smtp.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pluggy
import pytest
import sqlalchemy as sa

from app.db import db, utcnow
from app.errors import Forbidden
from app.events import EventOutbox
from plugins.customer.models import Customer
from plugins.password.models import ResetPasswordToken
from tests.conftest import Auth
from tests.smtp import smtp_server, smtp_server_not_started  # noqa: F401 (fixtures)

hookimpl = pluggy.HookimplMarker("evershop")

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


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


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


def assert_field_error(response, field: str, message: str) -> None:
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid {field}: {message}",
            "errors": [{"field": field, "message": message}],
        }
    }


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


# --- POST /api/customers/password: refusals ----------------------------------------------


def test_new_password_without_token_is_400(app, client, customer, events):
    response = client.post("/api/customers/password", json={"password": NEW_PASSWORD})

    assert_field_error(response, "token", MISSING)
    assert_password_is(client, OLD_PASSWORD, refused=NEW_PASSWORD)
    assert [name for name, _ in events()] == ["customer_registered"]


def test_new_password_without_password_is_400_and_keeps_the_token(
    app, client, runner, caplog, customer, events
):
    # Given
    token = token_by_log(client, runner, caplog)
    run_worker(runner)

    # When
    response = client.post("/api/customers/password", json={"token": token})

    # Then
    assert_field_error(response, "password", MISSING)
    assert token_rows(app) == [(customer["customer_id"], sha256_hex(token))]
    assert events() == []


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(secrets.token_urlsafe(32), id="unknown"),
        pytest.param("!!!", id="not-url-safe"),
        pytest.param("A" * 600, id="longer-than-512"),
        pytest.param(" ", id="blank"),
    ],
)
def test_new_password_with_a_token_never_issued_is_400(app, client, customer, events, token):
    before = password_hash(app)

    response = set_password(client, token, NEW_PASSWORD)

    assert_token_invalid(response)
    assert password_hash(app) == before
    assert [name for name, _ in events()] == ["customer_registered"]


def test_new_password_with_a_used_token_is_400(app, client, runner, caplog, customer, events):
    # Given
    token = token_by_log(client, runner, caplog)
    assert_success(set_password(client, token, NEW_PASSWORD))
    run_worker(runner)
    after_first_use = password_hash(app)

    # When
    response = set_password(client, token, "third-password-3")

    # Then
    assert_token_invalid(response)
    assert password_hash(app) == after_first_use
    assert events() == []


def test_new_password_with_an_expired_token_is_400(app, client, runner, caplog, customer, events):
    # Given a token just past its lifetime
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    age_tokens(app, app.config["RESET_PASSWORD_TOKEN_LIFETIME"] + 1)
    before = password_hash(app)

    # When
    response = set_password(client, token, NEW_PASSWORD)

    # Then
    assert_token_invalid(response)
    assert password_hash(app) == before
    assert events() == []


def test_new_password_with_a_token_within_a_short_lifetime_works(make_app, caplog):
    # Given a one-hour lifetime and a token 59 minutes old
    app = make_app(RESET_PASSWORD_TOKEN_LIFETIME=3600)
    client = app.test_client()
    Auth(app, client).create_customer()
    token = token_by_log(client, app.test_cli_runner(), caplog)
    age_tokens(app, 3540)

    # When
    response = set_password(client, token, NEW_PASSWORD)

    # Then
    assert_success(response)


def test_new_password_with_a_token_past_a_short_lifetime_is_400(make_app, caplog):
    # Given a one-hour lifetime and a token 61 minutes old
    app = make_app(RESET_PASSWORD_TOKEN_LIFETIME=3600)
    client = app.test_client()
    Auth(app, client).create_customer()
    token = token_by_log(client, app.test_cli_runner(), caplog)
    age_tokens(app, 3660)
    before = password_hash(app)

    # When
    response = set_password(client, token, NEW_PASSWORD)

    # Then
    assert_token_invalid(response)
    assert password_hash(app) == before


def test_new_password_too_short_is_400_and_the_token_still_works(
    app, client, runner, caplog, customer, events
):
    # Given
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    minimum = app.config["PASSWORD_MIN_LENGTH"]
    before = password_hash(app)

    # When
    refused = set_password(client, token, "x" * (minimum - 1))

    # Then
    assert_field_error(refused, "password", f"Must be at least {minimum} characters long.")
    assert password_hash(app) == before
    assert events() == []
    assert_success(set_password(client, token, NEW_PASSWORD))
    assert_password_is(client, NEW_PASSWORD, refused=OLD_PASSWORD)


def test_new_password_of_73_bytes_is_400_and_the_token_still_works(
    app, client, runner, caplog, customer, events
):
    # Given a password of 37 characters but 73 bytes in UTF-8
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    too_long = "é" * 36 + "x"
    assert len(too_long.encode("utf-8")) == 73
    before = password_hash(app)

    # When
    refused = set_password(client, token, too_long)

    # Then
    assert_field_error(refused, "password", "Must be at most 72 bytes long in UTF-8.")
    assert password_hash(app) == before
    assert events() == []
    assert_success(set_password(client, token, NEW_PASSWORD))
    assert_password_is(client, NEW_PASSWORD, refused=OLD_PASSWORD)


# --- what a successful reset revokes ---------------------------------------------------


def test_reset_voids_every_other_outstanding_token_of_the_customer(
    app, client, runner, caplog, customer
):
    # Given two emails, two tokens
    first = token_by_log(client, runner, caplog)
    second = token_by_log(client, runner, caplog)
    assert len(token_rows(app)) == 2

    # When
    assert_success(set_password(client, first, NEW_PASSWORD))

    # Then
    assert_token_invalid(set_password(client, second, "third-password-3"))
    assert token_rows(app) == []
    assert_password_is(client, NEW_PASSWORD, refused="third-password-3")


def test_reset_leaves_the_tokens_of_other_customers_alone(app, client, auth, runner, caplog):
    # Given
    auth.create_customer()
    other = auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")
    mine = token_by_log(client, runner, caplog)
    theirs = token_by_log(client, runner, caplog, email="jane.doe@example.com")

    # When
    assert_success(set_password(client, mine, NEW_PASSWORD))

    # Then
    assert token_rows(app) == [(other["customer_id"], sha256_hex(theirs))]
    assert_success(set_password(client, theirs, "jane-new-pass-3"))


def test_access_token_issued_before_the_reset_is_refused(app, client, runner, caplog, customer):
    # Given
    access, _ = jwt_pair_issued_ten_seconds_ago(app, customer)
    assert client.get("/api/customers/me", headers=bearer(access)).status_code == 200
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    response = client.get("/api/customers/me", headers=bearer(access))
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": ACCESS_REVOKED}}


def test_refresh_token_issued_before_the_reset_is_refused(app, client, runner, caplog, customer):
    # Given
    _, refresh = jwt_pair_issued_ten_seconds_ago(app, customer)
    refreshed = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    assert refreshed.status_code == 200, refreshed.json
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": REFRESH_REVOKED}}


def test_tokens_issued_after_the_reset_work(app, client, runner, caplog, customer):
    # Given
    assert_success(set_password(client, token_by_log(client, runner, caplog), NEW_PASSWORD))

    # When
    tokens = login(client, password=NEW_PASSWORD).json["data"]

    # Then
    me = client.get("/api/customers/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200, me.json
    assert me.json["data"]["uuid"] == customer["uuid"]


# --- one token, many hands ---------------------------------------------------------------


def test_one_token_used_concurrently_succeeds_exactly_once(
    backend, app, client, runner, caplog, customer, events
):
    # Given
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    barrier = threading.Barrier(RACERS, timeout=30)

    def use(racer: int):
        own_client = app.test_client()
        password = f"racer-password-{racer}"
        barrier.wait()
        response = own_client.post(
            "/api/customers/password", json={"token": token, "password": password}
        )
        return password, response.status_code, response.json

    # When
    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(use, range(RACERS)))

    # Then
    assert sorted(status for _, status, _ in results) == [200] + [400] * (RACERS - 1)
    winner = next(password for password, status, _ in results if status == 200)
    for _, status, body in results:
        if status == 400:
            assert body == {
                "error": {
                    "status": 400,
                    "message": TOKEN_INVALID,
                    "errors": [{"field": "token", "message": TOKEN_INVALID}],
                }
            }
    assert [name for name, _ in events()] == [
        "customer_updated",
        "customer_password_changed",
        "password_updated",
    ]
    assert token_rows(app) == []
    loser = next(password for password, status, _ in results if status == 400)
    assert_password_is(client, winner, refused=loser)


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


# --- hooks ----------------------------------------------------------------------------------


class FreezePasswords:
    """Vetoes password changes while ``frozen``."""

    message = "Password changes are frozen for this account."

    def __init__(self):
        self.frozen = True
        self.seen: list[dict] = []

    @hookimpl
    def password_before_update(self, customer, context):
        self.seen.append(customer)
        if self.frozen:
            raise Forbidden(self.message)


class RecordPasswordUpdates:
    def __init__(self):
        self.calls: list[tuple[dict, object]] = []

    @hookimpl
    def password_after_update(self, customer, context):
        self.calls.append((customer, context))


class RecordResetRequests:
    def __init__(self):
        self.calls: list[tuple[dict, object]] = []

    @hookimpl
    def password_after_reset_request(self, customer, context):
        self.calls.append((customer, context))


class DigitRequired:
    message = "Must contain a digit."

    @hookimpl
    def password_rules(self):
        return lambda password: None if re.search(r"\d", password) else self.message


def test_password_before_update_veto_is_403_and_keeps_password_and_token(
    app, client, runner, caplog, customer, events, register_plugin
):
    # Given
    plugin = register_plugin(FreezePasswords())
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    before = password_hash(app)

    # When
    response = set_password(client, token, NEW_PASSWORD)

    # Then
    assert response.status_code == 403, response.json
    assert response.json == {"error": {"status": 403, "message": FreezePasswords.message}}
    assert plugin.seen == [shown(customer)]
    assert password_hash(app) == before
    assert token_rows(app) == [(customer["customer_id"], sha256_hex(token))]
    assert events() == []
    plugin.frozen = False
    assert_success(set_password(client, token, NEW_PASSWORD))


def test_password_after_update_gets_the_customer_without_hash(
    app, client, auth, runner, caplog, customer, register_plugin
):
    # Given
    plugin = register_plugin(RecordPasswordUpdates())
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    [(hooked, context)] = plugin.calls
    assert hooked == customer_now(client, auth, customer)
    assert "password" not in hooked
    assert "$2b$" not in json.dumps(hooked)
    assert context.actor_type is None


def test_password_after_update_is_not_called_on_a_refused_token(
    app, client, customer, register_plugin
):
    plugin = register_plugin(RecordPasswordUpdates())

    assert_token_invalid(set_password(client, secrets.token_urlsafe(32), NEW_PASSWORD))

    assert plugin.calls == []


def test_password_after_reset_request_is_called_once_for_a_known_email(
    app, client, runner, caplog, customer, register_plugin
):
    plugin = register_plugin(RecordResetRequests())

    token_by_log(client, runner, caplog)

    [(hooked, context)] = plugin.calls
    assert hooked == shown(customer)
    assert context.actor_type is None


def test_password_after_reset_request_is_not_called_for_an_unknown_email(
    app, client, runner, customer, register_plugin
):
    # Given
    plugin = register_plugin(RecordResetRequests())

    # When
    assert_success(request_reset(client, UNKNOWN_EMAIL))
    run_worker(runner)

    # Then the event was handled, and the hook not called
    assert outbox(app) == []
    assert plugin.calls == []


def test_password_rules_plugin_applies_on_reset(
    app, client, runner, caplog, customer, events, register_plugin
):
    # Given
    register_plugin(DigitRequired())
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    before = password_hash(app)

    # When
    response = set_password(client, token, "no-digits-in-here")

    # Then
    assert_field_error(response, "password", DigitRequired.message)
    assert password_hash(app) == before
    assert events() == []
    assert_success(set_password(client, token, NEW_PASSWORD))


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
