"""Rate limits: ``RATELIMIT_ENABLED=false``, and the failed-login settings as
read from the environment."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_config
from tests.ratelimits.conftest import (
    CUSTOMER_EMAIL,
    SUCCESS,
    TOKEN_INVALID,
    UNKNOWN_EMAIL,
    assert_no_limit_headers,
    bogus_refresh,
    customer_emails,
    customer_login,
    fail_logins,
    request_reset,
    setup_auth,
    signup,
)

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
