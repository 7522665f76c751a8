"""Rate limits: ``flask user unlock`` and ``flask customers unlock``."""

from __future__ import annotations

from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Auth,
)
from tests.ratelimits.conftest import (
    ADDRESS_LOCKED,
    CUSTOMER_EMAIL,
    HIGH,
    LOCKED,
    admin_login,
    assert_too_many,
    client_from,
    cross_the_ceiling,
    customer_login,
    fail_logins,
    setup_auth,
    unlock,
)

# --- unlocking from the command line ---------------------------------------------------------


def test_customers_unlock_lifts_the_lock_of_an_address(lock_app, lock_client):
    # Given a customer locked out from the client's address
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)
    assert_too_many(customer_login(lock_client), LOCKED, window=15 * 60)

    # When an operator unlocks it
    result = unlock(lock_app, "customers", CUSTOMER_EMAIL)

    # Then the customer logs in from that address again
    assert result.exit_code == 0, result.output
    assert result.output == f"Unlocked the logins of customer {CUSTOMER_EMAIL}.\n"
    response = customer_login(lock_client)
    assert response.status_code == 200, response.json


def test_user_unlock_lifts_the_lock_of_an_admin(lock_app, lock_client):
    # Given
    fail_logins(admin_login, lock_client, ADMIN_EMAIL)
    assert_too_many(admin_login(lock_client), LOCKED, window=15 * 60)

    # When
    result = unlock(lock_app, "user", ADMIN_EMAIL)

    # Then
    assert result.exit_code == 0, result.output
    assert result.output == f"Unlocked the logins of admin user {ADMIN_EMAIL}.\n"
    response = admin_login(lock_client)
    assert response.status_code == 200, response.json


def test_customers_unlock_lifts_the_wait_past_the_account_ceiling(ceiling_app):
    # Given
    cross_the_ceiling(ceiling_app)
    client = client_from(ceiling_app, "203.0.113.9")
    assert customer_login(client).status_code == 429

    # When
    result = unlock(ceiling_app, "customers", CUSTOMER_EMAIL)

    # Then
    assert result.exit_code == 0, result.output
    assert customer_login(client).status_code == 200


def test_unlock_finds_the_account_whatever_the_letter_case(lock_app, lock_client):
    # Given
    fail_logins(customer_login, lock_client, "John.Smith@Example.com")

    # When
    result = unlock(lock_app, "customers", " JOHN.SMITH@EXAMPLE.COM ")

    # Then
    assert result.exit_code == 0, result.output
    assert customer_login(lock_client).status_code == 200


def test_customers_unlock_leaves_the_admin_with_the_same_email_locked(lock_app, lock_client):
    # Given an admin and a customer of one email, both locked out
    setup_auth(lock_app).create_admin(email=CUSTOMER_EMAIL, password=ADMIN_PASSWORD)
    fail_logins(admin_login, lock_client, CUSTOMER_EMAIL)
    fail_logins(customer_login, lock_client, CUSTOMER_EMAIL)

    # When the customer is unlocked
    assert unlock(lock_app, "customers", CUSTOMER_EMAIL).exit_code == 0

    # Then the admin stays locked
    assert customer_login(lock_client).status_code == 200
    assert_too_many(admin_login(lock_client, email=CUSTOMER_EMAIL), LOCKED, window=15 * 60)


def test_unlock_leaves_the_failures_of_an_address_across_accounts_counted(limited):
    # Given an address past its limit across accounts
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/15minutes")
    setup_auth(app).create_customer()
    client = app.test_client()
    fail_logins(customer_login, client, CUSTOMER_EMAIL, times=2)

    # When the customer is unlocked
    assert unlock(app, "customers", CUSTOMER_EMAIL).exit_code == 0

    # Then that address is still refused: the limit is its own, not the account's
    assert_too_many(customer_login(client), ADDRESS_LOCKED, window=15 * 60)


def test_unlock_with_memory_storage_fails_saying_it_cannot_reach_the_counters(make_app):
    # Given counters kept in the web processes' memory
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")

    # When
    result = unlock(app, "customers", CUSTOMER_EMAIL)

    # Then
    assert result.exit_code == 1
    assert result.output == (
        "Error: RATELIMIT_STORAGE_URI is memory://: the failed-login counters live in each "
        "web process, out of this command's reach. Restart the web processes to clear them.\n"
    )


def test_unlock_with_limits_off_says_there_is_nothing_to_unlock(make_app):
    # Given an admin (flask user commands refuse emails no admin has)
    app = make_app(RATELIMIT_ENABLED=False)
    Auth(app, app.test_client()).create_admin()

    # When
    result = unlock(app, "user", ADMIN_EMAIL)

    # Then
    assert result.exit_code == 0, result.output
    assert result.output == "Rate limits are off (RATELIMIT_ENABLED=false): nothing is locked.\n"
