"""Rate limits (docs/api.md, "Rate limits"): fixtures, requests and assertions
shared by the files beside this one.

The rest of the suite runs with the limits off; here each test switches them
on with small limits, counted in Redis under a key prefix of its own, so that
no two tests (nor two runs) ever share a counter.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.db import db
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Auth,
)
from tests.redis_store import REDIS_URL, remove_keys, require_redis  # noqa: F401 (re-exported)
from tests.smtp import smtp_server  # noqa: F401 (fixture)

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
    return require_redis()


@pytest.fixture
def key_prefix(redis_url):
    """A counter prefix of this test's own; its keys are removed afterwards."""
    prefix = f"test-ratelimits-{uuid.uuid4().hex}"
    yield prefix
    remove_keys(prefix)


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


def unlock(app, group: str, email: str):
    return app.test_cli_runner().invoke(args=[group, "unlock", email])
