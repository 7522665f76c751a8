"""Rate limits: failed logins of one account from one address lock it there,
and failed logins from one address across accounts stop at the address's
limit."""

from __future__ import annotations

import time

import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
)
from tests.ratelimits.conftest import (
    ADDRESS_LOCKED,
    CUSTOMER_EMAIL,
    HIGH,
    INVALID_LOGIN,
    LOCKED,
    OTHER_EMAIL,
    OTHER_PASSWORD,
    UNKNOWN_EMAIL,
    WRONG_PASSWORD,
    admin_login,
    assert_too_many,
    client_from,
    concurrently,
    customer_login,
    fail_logins,
    setup_auth,
)

# --- failed logins of one account from one address ------------------------------------


def test_customer_is_locked_after_five_failed_logins_even_with_the_right_password(lock_client):
    # Given five failed logins of the customer
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)

    # When it logs in with the right password
    response = customer_login(lock_client)

    # Then it is refused until the 15 minutes pass, and gets no token
    assert_too_many(response, LOCKED, window=15 * 60)
    assert "accessToken" not in response.get_data(as_text=True)


def test_admin_is_locked_after_five_failed_logins_even_with_the_right_password(lock_client):
    # Given five failed logins of the admin
    fail_logins(admin_login, lock_client, ADMIN_EMAIL)

    # When it logs in with the right password
    response = admin_login(lock_client)

    # Then
    assert_too_many(response, LOCKED, window=15 * 60)
    assert "accessToken" not in response.get_data(as_text=True)


def test_locked_customer_stays_locked_with_a_wrong_password_too(lock_client):
    # Given
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)

    # When
    response = customer_login(lock_client, password=WRONG_PASSWORD)

    # Then
    assert_too_many(response, LOCKED, window=15 * 60)


def test_customer_lock_leaves_another_customer_free_to_log_in(lock_client):
    # Given a locked customer
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)
    assert_too_many(customer_login(lock_client), LOCKED, window=15 * 60)

    # When another customer logs in from the same address
    response = customer_login(lock_client, email=OTHER_EMAIL, password=OTHER_PASSWORD)

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_customer_lock_leaves_the_admin_with_the_same_email_free(lock_app, lock_client):
    # Given an admin with the customer's email, and that customer locked
    setup_auth(lock_app).create_admin(email=CUSTOMER_EMAIL, password=ADMIN_PASSWORD)
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)

    # When the admin logs in
    response = admin_login(lock_client, email=CUSTOMER_EMAIL)

    # Then the admins' logins are counted apart from the customers'
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_admin_lock_leaves_customers_free_to_log_in(lock_client):
    # Given a locked admin
    fail_logins(admin_login, lock_client, ADMIN_EMAIL)

    # When a customer logs in
    response = customer_login(lock_client)

    # Then
    assert response.status_code == 200, response.json


def test_failed_logins_count_the_email_whatever_its_letter_case(lock_client):
    # Given five failed logins under as many spellings of one email
    for email in (
        "John.Smith@example.com",
        "JOHN.SMITH@EXAMPLE.COM",
        "john.smith@Example.Com",
        " john.smith@example.com ",
        "jOhN.sMiTh@example.com",
    ):
        fail_logins(customer_login, lock_client, email, times=1)

    # When the customer logs in with its email as stored and the right password
    response = customer_login(lock_client)

    # Then
    assert_too_many(response, LOCKED, window=15 * 60)


def test_unknown_email_is_locked_like_an_account_that_exists(lock_client):
    # Given five failed logins for an email nobody has, and for a real account
    fail_logins(customer_login, lock_client, UNKNOWN_EMAIL)
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)

    # When each is tried once more
    unknown = customer_login(lock_client, email=UNKNOWN_EMAIL, password=WRONG_PASSWORD)
    known = customer_login(lock_client, email=CUSTOMER_EMAIL, password=WRONG_PASSWORD)

    # Then both answers are the same 429: nothing tells which account exists
    assert_too_many(unknown, LOCKED, window=15 * 60)
    assert_too_many(known, LOCKED, window=15 * 60)
    assert unknown.get_data() == known.get_data()


def test_unknown_admin_email_is_locked_like_an_admin_that_exists(lock_client):
    # Given
    fail_logins(admin_login, lock_client, UNKNOWN_EMAIL)

    # When
    response = admin_login(lock_client, email=UNKNOWN_EMAIL)

    # Then
    assert_too_many(response, LOCKED, window=15 * 60)


def test_successful_login_before_the_limit_is_reached_works(lock_client):
    # Given four failed logins: one short of the lock
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL, times=4)

    # When the customer logs in with the right password
    response = customer_login(lock_client)

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_admin_login_before_the_limit_is_reached_works(lock_client):
    # Given
    fail_logins(admin_login, lock_client, ADMIN_EMAIL, times=4)

    # When
    response = admin_login(lock_client)

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_login_failures_limit_is_read_from_the_setting(limited):
    # Given a lock after 2 failed logins
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES="2/hour")
    setup_auth(app).create_customer()
    client = app.test_client()
    fail_logins(customer_login, client, CUSTOMER_EMAIL, times=2)

    # When
    response = customer_login(client)

    # Then
    assert_too_many(response, LOCKED, window=3600)


def test_failed_logins_from_one_address_leave_the_owner_free_to_log_in_from_another(lock_app):
    # Given an address that locked itself out of the customer's account
    attacker = client_from(lock_app, "198.51.100.66")
    fail_logins(customer_login, attacker, CUSTOMER_EMAIL)
    assert_too_many(customer_login(attacker), LOCKED, window=15 * 60)

    # When the customer logs in from its own address
    response = customer_login(client_from(lock_app, "203.0.113.9"))

    # Then no one can lock another person out
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_failed_admin_logins_from_one_address_leave_the_admin_free_to_log_in_from_another(
    lock_app,
):
    # Given
    attacker = client_from(lock_app, "198.51.100.66")
    fail_logins(admin_login, attacker, ADMIN_EMAIL)
    assert_too_many(admin_login(attacker), LOCKED, window=15 * 60)

    # When
    response = admin_login(client_from(lock_app, "203.0.113.9"))

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_failed_logins_of_an_account_spread_over_addresses_lock_none_of_them(lock_app):
    # Given four failed logins of one account from each of three addresses
    addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    for address in addresses:
        fail_logins(customer_login, client_from(lock_app, address), CUSTOMER_EMAIL, times=4)

    # When the customer logs in from each of them
    responses = [customer_login(client_from(lock_app, address)) for address in addresses]

    # Then twelve failures of the account lock no address: each had fewer than five
    assert [response.status_code for response in responses] == [200, 200, 200]


def test_login_lock_of_an_address_ends_when_its_window_passes(limited):
    # Given an address locked out for two seconds
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES="2/2second")
    setup_auth(app).create_customer()
    client = app.test_client()
    fail_logins(customer_login, client, CUSTOMER_EMAIL, times=2)
    assert_too_many(customer_login(client), LOCKED, window=2)

    # When the window has passed
    time.sleep(2.1)
    response = customer_login(client)

    # Then
    assert response.status_code == 200, response.json


def test_successful_login_does_not_count_as_a_failure(lock_client):
    # Given four failed logins and one that succeeded
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL, times=4)
    assert customer_login(lock_client).status_code == 200

    # When the password is wrong once more, and then again
    fifth = customer_login(lock_client, password=WRONG_PASSWORD)
    sixth = customer_login(lock_client, password=WRONG_PASSWORD)

    # Then the fifth failure is still checked, and locks the address out
    assert fifth.status_code == 401, fifth.json
    assert fifth.json == INVALID_LOGIN
    assert_too_many(sixth, LOCKED, window=15 * 60)


@pytest.mark.parametrize("storage", ["redis", "memory"])
def test_concurrent_failed_logins_get_no_more_password_checks_than_the_limit(
    limited, redis_url, storage
):
    # Given a customer whose password takes a while to check
    app = limited(
        RATELIMIT_TOKENS=HIGH,
        RATELIMIT_STORAGE_URI=redis_url if storage == "redis" else "memory://",
        BCRYPT_ROUNDS=10,
    )
    setup_auth(app).create_customer()

    # When twenty wrong passwords arrive at once from one address
    responses = concurrently(
        20, lambda _: customer_login(app.test_client(), password=WRONG_PASSWORD)
    )

    # Then five are checked (401) and the rest refused before any check
    assert sorted(response.status_code for response in responses) == [401] * 5 + [429] * 15
    for response in responses:
        assert response.json == (INVALID_LOGIN if response.status_code == 401 else LOCKED)


# --- failed logins per client address, across accounts -----------------------------------


def test_failed_logins_from_one_address_across_accounts_stop_at_the_address_limit(limited):
    # Given an address that failed three logins, each for another account
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="3/15minutes")
    setup_auth(app).create_customer()
    client = app.test_client()
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fail_logins(customer_login, client, email, times=1)

    # When it logs in to a fourth account, with the right password
    response = customer_login(client)

    # Then it is refused, and gets no token
    assert_too_many(response, ADDRESS_LOCKED, window=15 * 60)
    assert "accessToken" not in response.get_data(as_text=True)


def test_address_limit_leaves_another_address_free_to_log_in(limited):
    # Given
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="3/15minutes")
    setup_auth(app).create_customer()
    spent = app.test_client()
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fail_logins(customer_login, spent, email, times=1)
    assert_too_many(customer_login(spent), ADDRESS_LOCKED, window=15 * 60)

    # When
    response = customer_login(client_from(app, "203.0.113.9"))

    # Then
    assert response.status_code == 200, response.json


def test_address_limit_counts_admin_and_customer_logins_together(limited):
    # Given an address that failed two admin logins and one customer login
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="3/15minutes")
    setup_auth(app).create_customer()
    client = app.test_client()
    fail_logins(admin_login, client, "a@example.com", times=1)
    fail_logins(admin_login, client, "b@example.com", times=1)
    fail_logins(customer_login, client, "c@example.com", times=1)

    # When it logs in as the admin
    response = admin_login(client)

    # Then
    assert_too_many(response, ADDRESS_LOCKED, window=15 * 60)
