"""Settings come from the environment; production refuses to start without
its secrets and database URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
