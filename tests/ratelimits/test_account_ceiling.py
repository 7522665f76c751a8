"""Rate limits: the ceiling of an account's failed logins across addresses,
and the wait past it that doubles with each failure."""

from __future__ import annotations

import time

from tests.conftest import ADMIN_EMAIL
from tests.ratelimits.conftest import (
    HIGH,
    LOCKED,
    OTHER_EMAIL,
    OTHER_PASSWORD,
    WRONG_PASSWORD,
    admin_login,
    assert_too_many,
    client_from,
    concurrently,
    cross_the_ceiling,
    customer_login,
    setup_auth,
)

# --- the ceiling of an account across addresses, and its growing wait ---------------------


def test_account_past_its_ceiling_refuses_logins_from_every_address(ceiling_app):
    # Given an account whose failed logins reached its ceiling
    cross_the_ceiling(ceiling_app)

    # When its owner logs in from another address, with the right password
    response = customer_login(client_from(ceiling_app, "203.0.113.9"))

    # Then it waits the first second of the delay
    assert_too_many(response, LOCKED, window=1)
    assert response.headers["Retry-After"] == "1"
    assert "accessToken" not in response.get_data(as_text=True)


def test_admin_past_its_ceiling_refuses_logins_from_every_address(limited):
    # Given
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/15minutes")
    setup_auth(app).create_admin()
    cross_the_ceiling(app, admin_login, ADMIN_EMAIL)

    # When
    response = admin_login(client_from(app, "203.0.113.9"))

    # Then
    assert_too_many(response, LOCKED, window=1)


def test_account_past_its_ceiling_lets_one_login_through_once_the_wait_is_over(ceiling_app):
    # Given
    cross_the_ceiling(ceiling_app)
    assert customer_login(client_from(ceiling_app, "203.0.113.9")).status_code == 429

    # When the wait is over
    time.sleep(1.1)
    response = customer_login(client_from(ceiling_app, "203.0.113.9"))

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_each_failure_past_the_account_ceiling_doubles_the_wait(ceiling_app):
    # Given an account past its ceiling
    cross_the_ceiling(ceiling_app)
    client = client_from(ceiling_app, "203.0.113.9")
    waits = [customer_login(client).headers["Retry-After"]]

    # When each wait is sat out and the next password is wrong again
    for _ in range(2):
        time.sleep(int(waits[-1]) + 0.1)
        failed = customer_login(client, password=WRONG_PASSWORD)
        assert failed.status_code == 401, failed.json
        waits.append(customer_login(client).headers["Retry-After"])

    # Then
    assert waits == ["1", "2", "4"]


def test_wait_past_the_account_ceiling_is_capped_by_the_setting(limited):
    # Given a ceiling of 2 and waits of at most a second
    app = limited(
        RATELIMIT_TOKENS=HIGH,
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/15minutes",
        RATELIMIT_LOGIN_DELAY_MAX=1,
    )
    setup_auth(app).create_customer()
    cross_the_ceiling(app)
    client = client_from(app, "203.0.113.9")
    waits = [customer_login(client).headers["Retry-After"]]

    # When
    for _ in range(2):
        time.sleep(1.1)
        assert customer_login(client, password=WRONG_PASSWORD).status_code == 401
        waits.append(customer_login(client).headers["Retry-After"])

    # Then
    assert waits == ["1", "1", "1"]


def test_account_past_its_ceiling_checks_one_password_at_a_time(ceiling_app):
    # Given an account past its ceiling, whose wait is over
    cross_the_ceiling(ceiling_app)
    time.sleep(1.1)

    # When ten addresses try a password at once
    responses = concurrently(
        10,
        lambda number: customer_login(
            client_from(ceiling_app, f"203.0.113.{number + 10}"), password=WRONG_PASSWORD
        ),
    )

    # Then one is checked and nine are refused
    assert sorted(response.status_code for response in responses) == [401] + [429] * 9


def test_account_ceiling_leaves_other_accounts_free(ceiling_app):
    # Given
    cross_the_ceiling(ceiling_app)

    # When
    response = customer_login(
        client_from(ceiling_app, "198.51.100.1"), email=OTHER_EMAIL, password=OTHER_PASSWORD
    )

    # Then
    assert response.status_code == 200, response.json
