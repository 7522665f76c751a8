"""Rate limits (docs/api.md, "Rate limits"): the token endpoints' shared
budget per client address; failed logins per account and address, per
address, and the ceiling of an account with its growing wait; ``flask user
unlock`` and ``flask customers unlock``; public sign-up, reset requests and
the cap on reset emails; the client address behind trusted proxies;
``RATELIMIT_ENABLED=false``; counters shared through Redis, the Redis client
in a plain install, and gunicorn's warning about counters kept per worker.

The rest of the suite runs with the limits off; here each test switches them
on with small limits, counted in Redis under a key prefix of its own, so that
no two tests (nor two runs) ever share a counter.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import threading
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import sqlalchemy as sa

from app.config import ConfigError, load_config
from app.db import db
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    IN_CI,
    PG_URL,
    Auth,
    _drop_pg_database,
    _pg_url,
)
from tests.gunicorn_server import BIN, ROOT, free_port
from tests.smtp import smtp_server  # noqa: F401 (fixture)

REDIS_URL = "redis://127.0.0.1:6379/0"

CUSTOMER_EMAIL = "john.smith@example.com"
CUSTOMER_PASSWORD = "customer-pass-1"
OTHER_EMAIL = "jane.doe@example.com"
OTHER_PASSWORD = "jane-password-1"
UNKNOWN_EMAIL = "nobody@example.com"
WRONG_PASSWORD = "not-the-password"

TOKENS = "/api/user/tokens"
ADMIN_REFRESH = "/api/user/token/refresh"
CUSTOMER_TOKENS = "/api/customer/tokens"
CUSTOMER_REFRESH = "/api/customer/token/refresh"
CUSTOMERS = "/api/customers"
RESET = "/api/customers/reset-password"

INVALID_LOGIN = {"error": {"status": 401, "message": "Invalid email or password"}}
TOKEN_INVALID = {"error": {"status": 401, "message": "The token is invalid or expired."}}
TOO_MANY = {
    "error": {
        "status": 429,
        "message": (
            "Too many requests: wait as long as the Retry-After header says, then try again."
        ),
    }
}
LOCKED = {
    "error": {
        "status": 429,
        "message": "Too many failed logins for this account: try again later.",
    }
}
ADDRESS_LOCKED = {
    "error": {
        "status": 429,
        "message": "Too many failed logins from this address: try again later.",
    }
}
SUCCESS = {"data": {"success": True}}
RATELIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
HIGH = "1000/minute"  # a limit that a test never reaches
SETUP_ADDRESS = "192.0.2.250"  # the address the set-up requests come from


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    """The local Redis; a test that needs it fails in CI when it is not there."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as error:
        message = f"Redis at {REDIS_URL} is not reachable: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def key_prefix(redis_url):
    """A counter prefix of this test's own; its keys are removed afterwards."""
    prefix = f"test-ratelimits-{uuid.uuid4().hex}"
    yield prefix
    server = redis.Redis.from_url(redis_url)
    keys = list(server.scan_iter(match=f"*{prefix}*"))
    if keys:
        server.delete(*keys)


@pytest.fixture
def limited(make_app, redis_url, key_prefix):
    """``make_app`` with the limits on, counted in Redis under this test's prefix."""

    def build(**config):
        return make_app(
            **{
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_STORAGE_URI": redis_url,
                "RATELIMIT_KEY_PREFIX": key_prefix,
                **config,
            }
        )

    return build


def setup_auth(app) -> Auth:
    """Accounts made through the real endpoints from another client address,
    so that setting up spends nothing of the budget that the test measures."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = SETUP_ADDRESS
    return Auth(app, client)


# --- requests and reading ---------------------------------------------------------


def admin_login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, **kwargs):
    return client.post(TOKENS, json={"email": email, "password": password}, **kwargs)


def customer_login(client, email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD, **kwargs):
    return client.post(CUSTOMER_TOKENS, json={"email": email, "password": password}, **kwargs)


def bogus_refresh(client, **kwargs):
    """A token request that touches no account: a 401 while the budget lasts."""
    return client.post(CUSTOMER_REFRESH, json={"refreshToken": "not-a-token"}, **kwargs)


def client_from(app, address: str):
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def concurrently(count: int, request) -> list:
    """``request(number)`` for each number below ``count``, in as many threads
    released at the same moment; their answers."""
    barrier = threading.Barrier(count)

    def run(number):
        barrier.wait()
        return request(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def forwarded(address: str) -> dict:
    return {"headers": {"X-Forwarded-For": address}}


def signup(client, email: str):
    body = {"email": email, "password": "signup-password-1", "full_name": "Sign Up"}
    return client.post(CUSTOMERS, json=body)


def request_reset(client, email: str):
    return client.post(RESET, json={"email": email})


def customer_emails(app) -> list[str]:
    with app.app_context():
        emails = db.session.scalars(sa.text("SELECT email FROM customer ORDER BY email")).all()
        db.session.remove()
    return list(emails)


def outbox_names(app) -> list[str]:
    with app.app_context():
        names = db.session.scalars(
            sa.text("SELECT name FROM event_outbox ORDER BY event_outbox_id")
        ).all()
        db.session.remove()
    return list(names)


# --- assertions -------------------------------------------------------------------


def assert_too_many(response, body=TOO_MANY, window: int = 60) -> None:
    """A 429 in the envelope, with a Retry-After of whole seconds within the window."""
    assert response.status_code == 429, response.json
    assert response.json == body
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= window


def assert_limit_headers(response, limit: int, remaining: int, window: int = 60) -> None:
    """The RateLimit-* headers of a limited route: the limit, what is left of
    it, and the seconds until the window frees a request (Flask-Limiter rounds
    that up to the next whole second)."""
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    reset = response.headers["RateLimit-Reset"]
    assert reset.isdigit(), reset
    assert 1 <= int(reset) <= window + 1


def assert_no_limit_headers(response) -> None:
    for name in (*RATELIMIT_HEADERS, "Retry-After"):
        assert name not in response.headers, name


# --- token endpoints: one budget per client address ---------------------------------


def test_the_four_token_endpoints_share_one_budget_per_client_address(limited):
    # Given a budget of 3 token requests a minute, and accounts made elsewhere
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup = setup_auth(app)
    setup.create_customer()  # and the admin who creates it
    client = app.test_client()

    # When one client calls each of the four token endpoints in turn
    admin = admin_login(client)
    customer = customer_login(client)
    admin_refresh = client.post(
        ADMIN_REFRESH, json={"refreshToken": admin.json["data"]["refreshToken"]}
    )
    customer_refresh = client.post(
        CUSTOMER_REFRESH, json={"refreshToken": customer.json["data"]["refreshToken"]}
    )

    # Then the first three are answered and the fourth is refused
    assert [admin.status_code, customer.status_code, admin_refresh.status_code] == [200, 200, 200]
    assert_too_many(customer_refresh)
    assert "accessToken" not in customer_refresh.get_data(as_text=True)


@pytest.mark.parametrize("path", [TOKENS, ADMIN_REFRESH, CUSTOMER_TOKENS, CUSTOMER_REFRESH])
def test_each_token_endpoint_is_refused_once_the_budget_is_spent_on_another(limited, path):
    # Given a client that spent its 3 token requests on the customer refresh
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()
    for _ in range(3):
        assert bogus_refresh(client).status_code == 401

    # When it calls a token endpoint
    response = client.post(path, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    # Then it is refused before its body is even read
    assert_too_many(response)


def test_token_request_over_the_limit_is_429_with_retry_after_and_ratelimit_headers(limited):
    # Given a client that spent its 3 token requests
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()
    for _ in range(3):
        bogus_refresh(client)

    # When it asks a fourth time
    response = bogus_refresh(client)

    # Then
    assert_too_many(response)
    assert response.mimetype == "application/json"
    assert_limit_headers(response, limit=3, remaining=0)


def test_allowed_token_requests_count_down_ratelimit_remaining_without_retry_after(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    client = app.test_client()

    # When
    responses = [bogus_refresh(client) for _ in range(3)]

    # Then
    for remaining, response in zip([2, 1, 0], responses, strict=True):
        assert response.status_code == 401, response.json
        assert response.json == TOKEN_INVALID
        assert_limit_headers(response, limit=3, remaining=remaining)
        assert "Retry-After" not in response.headers


def test_successful_login_carries_ratelimit_headers(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup_auth(app).create_admin()
    client = app.test_client()

    # When
    response = admin_login(client)

    # Then
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}
    assert_limit_headers(response, limit=3, remaining=2)
    assert "Retry-After" not in response.headers


def test_token_budget_of_one_address_leaves_another_address_its_own(limited):
    # Given one address that spent its budget
    app = limited(RATELIMIT_TOKENS="3/minute")
    spent = app.test_client()
    for _ in range(3):
        bogus_refresh(spent)
    assert_too_many(bogus_refresh(spent))
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.20"

    # When another address asks
    response = bogus_refresh(other)

    # Then it has a full budget of its own
    assert response.status_code == 401, response.json
    assert_limit_headers(response, limit=3, remaining=2)


def test_routes_without_a_limit_carry_no_ratelimit_headers(limited):
    # Given
    app = limited(RATELIMIT_TOKENS="3/minute")
    setup = setup_auth(app)
    setup.create_customer()
    headers = setup.customer_headers()
    client = app.test_client()

    # When
    response = client.get("/api/customers/me", headers=headers)

    # Then
    assert response.status_code == 200, response.json
    assert_no_limit_headers(response)


# --- failed logins of one account from one address ------------------------------------


@pytest.fixture
def lock_app(limited):
    """The default lock (5 failed logins in 15 minutes) and a token budget
    that the tests never reach; an admin and two customers."""
    app = limited(RATELIMIT_TOKENS=HIGH)
    setup = setup_auth(app)
    setup.create_customer()  # and the admin who creates it
    setup.create_customer(email=OTHER_EMAIL, password=OTHER_PASSWORD, full_name="Jane Doe")
    return app


@pytest.fixture
def lock_client(lock_app):
    return lock_app.test_client()


def fail_logins(login, client, email: str, times: int = 5) -> None:
    for _ in range(times):
        response = login(client, email=email, password=WRONG_PASSWORD)
        assert response.status_code == 401, response.json
        assert response.json == INVALID_LOGIN


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


# --- the ceiling of an account across addresses, and its growing wait ---------------------


@pytest.fixture
def ceiling_app(limited):
    """An account ceiling of 2 failed logins, so that the tests cross it from
    addresses that each stay far below their own limits; two customers."""
    app = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/15minutes")
    setup = setup_auth(app)
    setup.create_customer()
    setup.create_customer(email=OTHER_EMAIL, password=OTHER_PASSWORD, full_name="Jane Doe")
    return app


def cross_the_ceiling(app, login=None, email=CUSTOMER_EMAIL) -> None:
    """Two failed logins of the account, each from an address of its own."""
    for number in (1, 2):
        fail_logins(login or customer_login, client_from(app, f"198.51.100.{number}"), email, 1)


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


# --- unlocking from the command line ---------------------------------------------------------


def unlock(app, group: str, email: str):
    return app.test_cli_runner().invoke(args=[group, "unlock", email])


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


# --- what the storage holds ------------------------------------------------------------------


def test_login_counters_in_redis_name_no_email(ceiling_app, redis_url, key_prefix):
    # Given failed logins that wrote every kind of login counter, and an unlock
    cross_the_ceiling(ceiling_app)
    assert customer_login(client_from(ceiling_app, "203.0.113.9")).status_code == 429
    assert unlock(ceiling_app, "customers", CUSTOMER_EMAIL).exit_code == 0

    # When the keys are read
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).scan_iter(f"*{key_prefix}*")]

    # Then no key holds the email or a part of it, and the login counters are
    # under the prefix
    login_keys = [key for key in keys if ":login-" in key]
    assert {key.split(":")[2] for key in login_keys} == {
        "login-failures",
        "login-wait",
        "login-generation",
    }
    for key in keys:
        assert "john" not in key.lower() and "example" not in key.lower(), key
    for key in login_keys:
        assert key.startswith(f"LIMITS:{key_prefix}:"), key


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


# --- the client address and TRUSTED_PROXIES ---------------------------------------------


def test_forwarded_header_is_ignored_without_trusted_proxies(limited):
    # Given no trusted proxy, and two requests forwarded for different clients
    app = limited(RATELIMIT_TOKENS="2/minute")
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401
    assert bogus_refresh(client, **forwarded("203.0.113.2")).status_code == 401

    # When a third client is named in the header
    response = bogus_refresh(client, **forwarded("203.0.113.3"))

    # Then all three are the one socket peer, and share its budget
    assert_too_many(response)


def test_forwarded_header_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(limited):
    # Given a trusted proxy network that does not hold the peer (127.0.0.1)
    app = limited(RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
    client = app.test_client()
    bogus_refresh(client, **forwarded("203.0.113.1"))
    bogus_refresh(client, **forwarded("203.0.113.2"))

    # When
    response = bogus_refresh(client, **forwarded("203.0.113.3"))

    # Then
    assert_too_many(response)


def test_forwarded_clients_behind_a_trusted_proxy_get_separate_budgets(limited):
    # Given the peer is a trusted proxy, and one client it forwards spent its budget
    app = limited(
        RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")]
    )
    client = app.test_client()
    for _ in range(2):
        assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401
    assert_too_many(bogus_refresh(client, **forwarded("203.0.113.1")))

    # When the proxy forwards another client
    response = bogus_refresh(client, **forwarded("203.0.113.2"))

    # Then that client has a budget of its own
    assert response.status_code == 401, response.json
    assert_limit_headers(response, limit=2, remaining=1)


def test_trusted_proxy_network_covers_the_peer(limited):
    # Given a trusted network that holds the peer's address
    app = limited(
        RATELIMIT_TOKENS="1/minute", TRUSTED_PROXIES=[ipaddress.ip_network("10.1.0.0/16")]
    )
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401

    # When
    response = bogus_refresh(client, **forwarded("203.0.113.2"))

    # Then
    assert response.status_code == 401, response.json


def test_forwarded_chain_counts_the_right_most_address_that_is_not_a_trusted_proxy(limited):
    # Given a trusted proxy that appends the real client to what the client sent
    app = limited(
        RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")]
    )
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("198.51.100.1, 203.0.113.7")).status_code == 401
    assert bogus_refresh(client, **forwarded("198.51.100.2, 203.0.113.7")).status_code == 401

    # When the client makes up yet another address in front of its own
    spoofed = bogus_refresh(client, **forwarded("198.51.100.3, 203.0.113.7"))

    # Then it is still counted as itself; another real client is not
    assert_too_many(spoofed)
    other = bogus_refresh(client, **forwarded("203.0.113.7, 203.0.113.8"))
    assert other.status_code == 401, other.json


def test_forwarded_chain_through_two_trusted_proxies_counts_the_client(limited):
    # Given two trusted proxies, the peer and one inside the network
    app = limited(
        RATELIMIT_TOKENS="1/minute",
        TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")],
    )
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("203.0.113.7, 10.0.0.5")).status_code == 401

    # When the same client comes through the other inner proxy, and another client through it
    same = bogus_refresh(client, **forwarded("203.0.113.7, 10.0.0.6"))
    other = bogus_refresh(client, **forwarded("203.0.113.8, 10.0.0.5"))

    # Then
    assert_too_many(same)
    assert other.status_code == 401, other.json


# --- RATELIMIT_ENABLED=false -------------------------------------------------------------


@pytest.fixture
def unlimited(limited):
    """Limits switched off, though each is set to one request."""
    return limited(
        RATELIMIT_ENABLED=False,
        RATELIMIT_TOKENS="1/minute",
        RATELIMIT_SIGNUP="1/hour",
        RATELIMIT_RESET="1/minute",
        RATELIMIT_LOGIN_FAILURES="1/hour",
    )


def test_disabled_limits_never_refuse_token_requests_and_send_no_headers(unlimited):
    client = unlimited.test_client()

    responses = [bogus_refresh(client) for _ in range(10)]

    for response in responses:
        assert response.status_code == 401, response.json
        assert response.json == TOKEN_INVALID
        assert_no_limit_headers(response)


def test_disabled_limits_never_lock_an_account(unlimited):
    # Given ten failed logins
    setup_auth(unlimited).create_customer()
    client = unlimited.test_client()
    fail_logins(customer_login, client, CUSTOMER_EMAIL, times=10)

    # When
    response = customer_login(client)

    # Then
    assert response.status_code == 200, response.json
    assert_no_limit_headers(response)


def test_disabled_limits_never_refuse_signups_or_resets(unlimited):
    client = unlimited.test_client()

    signups = [signup(client, f"visitor{number}@example.com") for number in range(5)]
    resets = [request_reset(client, UNKNOWN_EMAIL) for _ in range(5)]

    assert [response.status_code for response in signups] == [201] * 5
    assert [response.status_code for response in resets] == [200] * 5
    for response in signups + resets:
        assert_no_limit_headers(response)
    assert len(customer_emails(unlimited)) == 5


def test_disabled_limits_never_cap_reset_emails(
    limited,
    smtp_server,  # noqa: F811
):
    # Given at most one reset email an hour, but the limits off
    app = limited(
        RATELIMIT_ENABLED=False,
        RATELIMIT_RESET_EMAILS="1/hour",
        EVENTS_DELIVERY="inline",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
    )
    setup_auth(app).create_customer()
    client = app.test_client()

    # When
    for _ in range(3):
        assert request_reset(client, CUSTOMER_EMAIL).json == SUCCESS

    # Then
    assert [received.rcpt_tos for received in smtp_server.messages] == [[CUSTOMER_EMAIL]] * 3


# --- storage -----------------------------------------------------------------------------


def test_two_apps_on_one_redis_share_a_budget(limited):
    # Given two instances of the service on one Redis, with the same key prefix
    first = limited(RATELIMIT_TOKENS="3/minute").test_client()
    second = limited(RATELIMIT_TOKENS="3/minute").test_client()

    # When the client's three requests are split between them
    assert bogus_refresh(first).status_code == 401
    assert bogus_refresh(second).status_code == 401
    assert bogus_refresh(first).status_code == 401

    # Then each of them refuses the fourth
    assert_too_many(bogus_refresh(second))
    assert_too_many(bogus_refresh(first))


def test_two_apps_on_one_redis_share_the_login_lock(limited):
    # Given two instances on one Redis
    first = limited(RATELIMIT_TOKENS=HIGH)
    second = limited(RATELIMIT_TOKENS=HIGH)
    setup_auth(first).create_customer()

    # When the failed logins are split between them
    fail_logins(customer_login, first.test_client(), CUSTOMER_EMAIL, times=3)
    fail_logins(customer_login, second.test_client(), CUSTOMER_EMAIL, times=2)

    # Then both lock the account
    assert_too_many(customer_login(first.test_client()), LOCKED, window=15 * 60)
    assert_too_many(customer_login(second.test_client()), LOCKED, window=15 * 60)


def test_apps_with_different_key_prefixes_keep_their_counters_apart(limited):
    # Given two services on one Redis under different key prefixes
    first = limited(RATELIMIT_TOKENS=HIGH)
    second = limited(RATELIMIT_TOKENS=HIGH, RATELIMIT_KEY_PREFIX=f"other-{uuid.uuid4().hex}")
    try:
        setup_auth(first).create_customer()
        fail_logins(customer_login, first.test_client(), CUSTOMER_EMAIL)
        assert_too_many(customer_login(first.test_client()), LOCKED, window=15 * 60)

        # When the same account logs in on the other service
        response = customer_login(second.test_client())

        # Then neither its address budget nor its login lock is the first one's
        assert response.status_code == 200, response.json
    finally:
        prefix = second.config["RATELIMIT_KEY_PREFIX"]
        server = redis.Redis.from_url(REDIS_URL)
        keys = list(server.scan_iter(match=f"*{prefix}*"))
        if keys:
            server.delete(*keys)


def test_two_apps_with_memory_storage_do_not_share_a_budget(make_app):
    # Given two instances that count in their own memory
    config = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_TOKENS": "3/minute",
    }
    first = make_app(**config).test_client()
    second = make_app(**config).test_client()
    for _ in range(3):
        assert bogus_refresh(first).status_code == 401
    assert_too_many(bogus_refresh(first))

    # When the same client asks the other instance
    response = bogus_refresh(second)

    # Then that one has counted nothing yet
    assert response.status_code == 401, response.json
    assert_limit_headers(response, limit=3, remaining=2)


# --- settings ------------------------------------------------------------------------------


def test_failed_login_limits_default_to_the_documented_ones(tmp_path):
    config = load_config(str(tmp_path), {})

    assert [
        config["RATELIMIT_LOGIN_FAILURES"],
        config["RATELIMIT_LOGIN_FAILURES_PER_ADDRESS"],
        config["RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT"],
        config["RATELIMIT_LOGIN_DELAY_MAX"],
    ] == ["5/15minutes", "30/15minutes", "100/15minutes", 900]


def test_failed_login_limits_are_read_from_the_environment(tmp_path):
    env = {
        "RATELIMIT_LOGIN_FAILURES": "3/hour",
        "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": "20/hour",
        "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "50/hour",
        "RATELIMIT_LOGIN_DELAY_MAX": "3600",
    }

    config = load_config(str(tmp_path), env)

    assert [config[name] for name in env] == ["3/hour", "20/hour", "50/hour", 3600]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATELIMIT_LOGIN_FAILURES", "5/minute;10/hour"),
        ("RATELIMIT_LOGIN_FAILURES_PER_ADDRESS", "many"),
        ("RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT", "100/fortnight"),
        ("RATELIMIT_LOGIN_DELAY_MAX", "0"),
        ("RATELIMIT_LOGIN_DELAY_MAX", "soon"),
    ],
)
def test_a_malformed_failed_login_setting_stops_start_up(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(str(tmp_path), {name: value})


# --- installing and starting -------------------------------------------------------------


def test_plain_install_as_the_dockerfile_does_carries_the_redis_client():
    # Given the Dockerfile installs the service's lock file, then the project
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^RUN pip install (.+)$", dockerfile, re.M) == [
        "--require-hashes -r requirements/service.lock",
        "--no-deps .",
    ]

    # When the project's own requirements and that lock file are read
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {re.match(r"[\w.-]+", line).group(0).lower() for line in project["dependencies"]}
    locked = re.findall(r"^([\w.-]+)==", (ROOT / "requirements/service.lock").read_text(), re.M)

    # Then the Redis client that RATELIMIT_STORAGE_URI=redis://… needs is among both
    assert "redis" in core
    assert "redis" in {name.lower() for name in locked}


@pytest.fixture
def empty_database_url(backend, tmp_path):
    """A database with no tables yet, on this test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    url = _pg_url(PG_URL)
    name = f"{url.database}_ratelimits_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    made = url.set(database=name).render_as_string(hide_password=False)
    yield made
    _drop_pg_database(made)


def production_env(tmp_path, **settings) -> dict:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        # Production refuses SQLite unless told: these tests need no PostgreSQL.
        "ALLOW_SQLITE_IN_PRODUCTION": "true",
        "SECRET_KEY": "ratelimits-secret-key-0123456789abcdef0123",
        "JWT_ADMIN_SECRET": "ratelimits-admin-secret-0123456789abcdef01",
        "JWT_ADMIN_REFRESH_SECRET": "ratelimits-admin-refresh-secret-012345678",
        "JWT_CUSTOMER_SECRET": "ratelimits-customer-secret-0123456789abcde",
        "JWT_CUSTOMER_REFRESH_SECRET": "ratelimits-customer-refresh-secret-01234",
        "PLUGINS_ONLY": "",
        **settings,
    }


def test_flask_db_upgrade_runs_with_redis_rate_limit_storage(
    empty_database_url, redis_url, key_prefix, tmp_path
):
    # Given a production environment that counts rate limits in Redis
    env = production_env(
        tmp_path,
        DATABASE_URL=empty_database_url,
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=key_prefix,
    )

    # When the documented migration step runs
    finished = subprocess.run(
        ["flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then it migrates the database
    assert finished.returncode == 0, finished.stderr
    engine = sa.create_engine(_pg_url(empty_database_url))
    try:
        assert "customer" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def gunicorn_start_log(tmp_path, **settings) -> list[dict]:
    """The log lines on stderr (LOG_FORMAT=json; gunicorn's own are those of
    ``gunicorn.error``) from its start until every worker has booted, after
    which it is stopped."""
    env = production_env(
        tmp_path, HOST="127.0.0.1", PORT=str(free_port()), LOG_FORMAT="json", **settings
    )
    workers = int(env.get("WEB_CONCURRENCY", "1"))
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            ["gunicorn", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Booting worker") < workers:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    return [json.loads(line) for line in log.read_text().splitlines()]


MEMORY_WARNING = (
    "RATELIMIT_STORAGE_URI is memory:// and 2 workers serve: each counts rate "
    "limits on its own, so a client gets up to 2 times every limit "
    "(set RATELIMIT_STORAGE_URI=redis://host:6379/0 to share the counts)"
)


def test_gunicorn_warns_in_one_line_when_workers_count_rate_limits_alone(tmp_path):
    # When production starts two workers that keep their counters in memory
    lines = gunicorn_start_log(tmp_path, WEB_CONCURRENCY="2")

    # Then
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings if line["logger"] == "gunicorn.error"] == [
        MEMORY_WARNING
    ], lines


@pytest.mark.parametrize(
    "settings",
    [
        {"WEB_CONCURRENCY": "1"},
        {"WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": REDIS_URL},
        {"WEB_CONCURRENCY": "2", "RATELIMIT_ENABLED": "false"},
        {"WEB_CONCURRENCY": "2", "APP_ENV": "development"},
    ],
    ids=["one-worker", "redis", "limits-off", "development"],
)
def test_gunicorn_does_not_warn_when_rate_limits_are_counted_once(tmp_path, settings):
    # When
    lines = gunicorn_start_log(tmp_path, **settings)

    # Then
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert [line for line in warnings if line["logger"] == "gunicorn.error"] == [], lines
