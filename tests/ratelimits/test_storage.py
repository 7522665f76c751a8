"""Rate limits: the counters shared through Redis (and what they hold), the
Redis client in a plain install, and gunicorn's warning about counters kept
per worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import tomllib
import uuid

import pytest
import redis
import sqlalchemy as sa

from tests.conftest import _pg_url
from tests.gunicorn_server import BIN, ROOT, free_port
from tests.ratelimits.conftest import (
    CUSTOMER_EMAIL,
    HIGH,
    LOCKED,
    REDIS_URL,
    assert_limit_headers,
    assert_too_many,
    bogus_refresh,
    client_from,
    cross_the_ceiling,
    customer_login,
    fail_logins,
    setup_auth,
    unlock,
)

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
    fresh_database_url, redis_url, key_prefix, tmp_path
):
    # Given a production environment that counts rate limits in Redis
    env = production_env(
        tmp_path,
        DATABASE_URL=fresh_database_url,
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
    engine = sa.create_engine(_pg_url(fresh_database_url))
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
