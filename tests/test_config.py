"""Settings come from the environment; production refuses to start without
its secrets and database URL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.config import SECRET_SETTINGS, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://svc@db.internal/shop",
    "SECRET_KEY": "k" * 40,
    **{name: name.lower() * 2 for name in SECRET_SETTINGS},
}


def test_production_without_secrets_names_every_missing_setting(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), {"APP_ENV": "production"})
    message = str(caught.value)
    for name in ("DATABASE_URL", "SECRET_KEY", *SECRET_SETTINGS):
        assert name in message
    assert "\n" not in message


def test_production_with_every_setting_starts(tmp_path):
    config = load_config(str(tmp_path), PRODUCTION)
    assert config["JWT_ADMIN_SECRET"] == PRODUCTION["JWT_ADMIN_SECRET"]
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://svc@db.internal/shop"
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_start_prints_one_line_and_exits_non_zero(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    env["APP_ENV"] = "production"
    env["PLUGINS_ONLY"] = ""
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: APP_ENV=production needs")
    assert "DATABASE_URL" in lines[0]


def test_development_secrets_are_generated_once_and_kept(tmp_path):
    first = load_config(str(tmp_path), {})
    second = load_config(str(tmp_path), {})
    for name in SECRET_SETTINGS:
        assert len(first[name]) >= 32
        assert first[name] == second[name]
    assert len({first[name] for name in SECRET_SETTINGS}) == len(SECRET_SETTINGS)
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_development_secret_from_the_environment_wins(tmp_path):
    config = load_config(str(tmp_path), {"JWT_ADMIN_SECRET": "from-env"})
    assert config["JWT_ADMIN_SECRET"] == "from-env"


def test_development_database_defaults_to_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(str(tmp_path), {})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/customer-service.sqlite3"


def test_every_contract_setting_is_read_from_the_environment(tmp_path):
    env = {
        "JWT_ISSUER": "shop",
        "JWT_ADMIN_TOKEN_EXPIRY": "60",
        "JWT_ADMIN_REFRESH_TOKEN_EXPIRY": "61",
        "JWT_CUSTOMER_TOKEN_EXPIRY": "62",
        "JWT_CUSTOMER_REFRESH_TOKEN_EXPIRY": "63",
        "BCRYPT_ROUNDS": "12",
        "PASSWORD_MIN_LENGTH": "10",
        "CUSTOMER_REGISTRATION_OPEN": "false",
        "MAX_CONTENT_LENGTH": "2048",
        "PLUGINS": "a.b, c.d",
        "PLUGINS_BLOCKED": "e.f",
    }
    config = load_config(str(tmp_path), env)
    assert config["JWT_ISSUER"] == "shop"
    assert [
        config["JWT_ADMIN_TOKEN_EXPIRY"],
        config["JWT_ADMIN_REFRESH_TOKEN_EXPIRY"],
        config["JWT_CUSTOMER_TOKEN_EXPIRY"],
        config["JWT_CUSTOMER_REFRESH_TOKEN_EXPIRY"],
    ] == [60, 61, 62, 63]
    assert config["BCRYPT_ROUNDS"] == 12
    assert config["PASSWORD_MIN_LENGTH"] == 10
    assert config["CUSTOMER_REGISTRATION_OPEN"] is False
    assert config["MAX_CONTENT_LENGTH"] == 2048
    assert config["PLUGINS"] == ["a.b", "c.d"]
    assert config["PLUGINS_BLOCKED"] == ["e.f"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("BCRYPT_ROUNDS", "3"), ("BCRYPT_ROUNDS", "ten"), ("CUSTOMER_REGISTRATION_OPEN", "maybe")],
)
def test_a_malformed_setting_stops_start_up(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(str(tmp_path), {name: value})


# --- APP_ENV ---------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["Production", "PRODUCTION", " production "])
def test_app_env_is_read_in_any_letter_case(tmp_path, spelling):
    config = load_config(str(tmp_path), {**PRODUCTION, "APP_ENV": spelling})
    assert config["APP_ENV"] == "production"


def test_app_env_in_another_letter_case_still_requires_the_production_settings(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), {"APP_ENV": "Production"})
    assert str(caught.value).startswith("APP_ENV=production needs these environment variables")


@pytest.mark.parametrize("value", ["staging", "prod", "test"])
def test_unknown_app_env_stops_start_up(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), {**PRODUCTION, "APP_ENV": value})
    assert str(caught.value) == f"APP_ENV must be one of development, production, got {value!r}"
    assert not (tmp_path / "dev-secrets.json").exists()


def test_unknown_app_env_start_prints_one_line_and_exits_non_zero(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=tmp_path,
        env={**env, "APP_ENV": "staging", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "configuration error: APP_ENV must be one of development, production, got 'staging'"
    ]


# --- production's secrets and database ------------------------------------------------


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_production_refuses_a_jwt_secret_shorter_than_32_bytes(tmp_path, name):
    short = "s" * 31
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), {**PRODUCTION, name: short})
    message = str(caught.value)
    assert message == f"APP_ENV=production needs JWT secrets of at least 32 bytes: {name}"
    assert short not in message


def test_production_counts_a_jwt_secret_in_bytes(tmp_path):
    # 16 characters of two bytes each in UTF-8: 32 bytes
    config = load_config(str(tmp_path), {**PRODUCTION, "JWT_ADMIN_SECRET": "é" * 16})
    assert config["JWT_ADMIN_SECRET"] == "é" * 16


def test_production_refuses_equal_jwt_secrets(tmp_path):
    shared = "the-same-secret-for-both-kinds-0123456789"
    env = {**PRODUCTION, "JWT_ADMIN_SECRET": shared, "JWT_CUSTOMER_SECRET": shared}
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), env)
    message = str(caught.value)
    assert message == (
        "APP_ENV=production needs four different JWT secrets;"
        " equal: JWT_ADMIN_SECRET and JWT_CUSTOMER_SECRET"
    )
    assert shared not in message


def test_development_accepts_short_and_equal_jwt_secrets(tmp_path):
    env = {name: "dev" for name in SECRET_SETTINGS}
    config = load_config(str(tmp_path), env)
    assert [config[name] for name in SECRET_SETTINGS] == ["dev"] * 4


@pytest.mark.parametrize(
    "url", ["sqlite:///var/lib/shop.sqlite3", "sqlite+pysqlite:///shop.db", "SQLite://"]
)
def test_production_refuses_a_sqlite_database(tmp_path, url):
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), {**PRODUCTION, "DATABASE_URL": url})
    assert str(caught.value) == (
        "APP_ENV=production refuses a SQLite DATABASE_URL;"
        " set ALLOW_SQLITE_IN_PRODUCTION=true to use one anyway"
    )


def test_production_takes_sqlite_when_allowed(tmp_path):
    env = {**PRODUCTION, "DATABASE_URL": "sqlite:///shop.db", "ALLOW_SQLITE_IN_PRODUCTION": "true"}
    config = load_config(str(tmp_path), env)
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///shop.db"


def test_production_without_mail_server_logs_one_warning_at_start_up(caplog):
    caplog.set_level(logging.WARNING)
    create_app({"TESTING": True, "PLUGINS_ONLY": []}, env=PRODUCTION)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelno, r.getMessage()) for r in warnings] == [
        (
            "app",
            logging.WARNING,
            "MAIL_SERVER is not set: reset-password emails are not sent,"
            " they wait in the event outbox until it is",
        )
    ]


def test_production_with_mail_server_starts_without_warnings(caplog):
    caplog.set_level(logging.WARNING)
    create_app(
        {"TESTING": True, "PLUGINS_ONLY": []}, env={**PRODUCTION, "MAIL_SERVER": "smtp.internal"}
    )
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_development_without_mail_server_starts_without_warnings(caplog):
    caplog.set_level(logging.WARNING)
    secrets = {name: "dev" for name in (*SECRET_SETTINGS, "SECRET_KEY")}
    create_app({"TESTING": True, "PLUGINS_ONLY": []}, env=secrets)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- GraphQL limits ------------------------------------------------------------------


def test_graphql_limits_default_tighter_for_the_storefront(tmp_path):
    config = load_config(str(tmp_path), {})
    assert {
        name: (config[f"GRAPHQL_PUBLIC_{name}"], config[f"GRAPHQL_ADMIN_{name}"])
        for name in ("MAX_BODY_BYTES", "MAX_TOKENS", "MAX_DEPTH", "MAX_FIELDS", "MAX_COST")
    } == {
        "MAX_BODY_BYTES": (16384, 65536),
        "MAX_TOKENS": (1000, 5000),
        "MAX_DEPTH": (8, 15),
        "MAX_FIELDS": (200, 1000),
        "MAX_COST": (200, 1000),
    }


def test_graphql_limits_are_read_from_the_environment(tmp_path):
    names = ("MAX_BODY_BYTES", "MAX_TOKENS", "MAX_DEPTH", "MAX_FIELDS", "MAX_COST")
    env = {
        f"GRAPHQL_{audience}_{name}": str(10 + n)
        for n, name in enumerate(names)
        for audience in ("PUBLIC", "ADMIN")
    }
    config = load_config(str(tmp_path), env)
    assert {name: config[name] for name in env} == {name: int(value) for name, value in env.items()}


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_graphql_limit_below_one_stops_start_up(tmp_path, value):
    with pytest.raises(ConfigError, match="GRAPHQL_PUBLIC_MAX_DEPTH"):
        load_config(str(tmp_path), {"GRAPHQL_PUBLIC_MAX_DEPTH": value})
