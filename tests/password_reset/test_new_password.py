"""Password reset: setting the new password (``POST /api/customers/password``)
refuses a missing, unknown, used or expired token and a bad password, and one
token used by many hands at once succeeds exactly once."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Auth
from tests.helpers import assert_field_error
from tests.password_reset.conftest import (
    MISSING,
    NEW_PASSWORD,
    OLD_PASSWORD,
    RACERS,
    TOKEN_INVALID,
    age_tokens,
    assert_password_is,
    assert_success,
    assert_token_invalid,
    password_hash,
    run_worker,
    set_password,
    sha256_hex,
    token_by_log,
    token_rows,
)

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
