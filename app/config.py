"""Settings, read from environment variables (docs/operations.md lists them).

Every setting has a development default so that `make run` works on a fresh
machine. With ``APP_ENV=production`` the secrets and the database URL have no
default, the JWT secrets must be long and distinct, and SQLite is refused
unless asked for: start-up stops with one line naming what is wrong.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path

import limits

from app.logs import LogFormatError, log_format

SECRET_SETTINGS = (
    "JWT_ADMIN_SECRET",
    "JWT_ADMIN_REFRESH_SECRET",
    "JWT_CUSTOMER_SECRET",
    "JWT_CUSTOMER_REFRESH_SECRET",
)

APP_ENVS = ("development", "production")

# A JWT secret shorter than this is refused in production (HS256 wants a key of
# at least its hash's size: docs/operations.md).
MIN_JWT_SECRET_BYTES = 32

# GraphQL limits (docs/api.md, "GraphQL limits"), each overridable as
# GRAPHQL_PUBLIC_<NAME> (/api/graphql) and GRAPHQL_ADMIN_<NAME> (/api/admin/graphql).
GRAPHQL_LIMITS = {
    # name: (public default, admin default)
    "MAX_BODY_BYTES": (16 * 1024, 64 * 1024),  # request body
    "MAX_TOKENS": (1000, 5000),  # lexical tokens of the query, comments included
    "MAX_DEPTH": (8, 15),  # fields nested within fields
    "MAX_FIELDS": (200, 1000),  # field selections, aliases and __typename included
    "MAX_COST": (200, 1000),  # ariadne's query cost: 1 per schema field, or its @cost
}

# The limits of docs/api.md ("Rate limits"), each overridable as RATELIMIT_<NAME>.
RATE_LIMITS = {
    "TOKENS": "30/minute",  # token endpoints, per client address
    "SIGNUP": "10/hour",  # public sign-up, per client address
    "RESET": "10/minute",  # reset-password requests, per client address
    "RESET_EMAILS": "3/hour",  # reset emails to one account
}

# Failed logins, one limit each (app/login_limits.py), overridable the same way.
LOGIN_FAILURE_LIMITS = {
    "LOGIN_FAILURES": "5/15minutes",  # one account from one client address
    "LOGIN_FAILURES_PER_ADDRESS": "30/15minutes",  # one client address, any account
    "LOGIN_FAILURES_PER_ACCOUNT": "100/15minutes",  # one account, any address: the ceiling
}


class ConfigError(RuntimeError):
    """The environment does not describe a service that may start."""


def _bool(env: dict, name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _number(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _choice(env: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _positive(env: dict, name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _graphql_limits(env: dict) -> dict[str, int]:
    return {
        f"GRAPHQL_{audience}_{name}": _positive(env, f"GRAPHQL_{audience}_{name}", default)
        for name, defaults in GRAPHQL_LIMITS.items()
        for audience, default in zip(("PUBLIC", "ADMIN"), defaults, strict=True)
    }


def _limit(env: dict, name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    try:
        limits.parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit like '30/minute', got {value!r}") from None
    return value


def _single_limit(env: dict, name: str, default: str) -> str:
    value = _limit(env, name, default)
    if len(limits.parse_many(value)) != 1:
        raise ConfigError(f"{name} must be one rate limit like '5/15minutes', got {value!r}")
    return value


def _whole_seconds(env: dict, name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1 (second), got {value}")
    return value


def _networks(env: dict, name: str) -> list:
    networks = []
    for item in _names(env.get(name)):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks, got {item!r}") from None
    return networks


def _log_format(env: dict) -> str:
    try:
        return log_format(env)
    except LogFormatError as error:
        raise ConfigError(str(error)) from None


def _port(env: dict, name: str) -> int | None:
    """A TCP port, or None when unset."""
    if not (env.get(name) or "").strip():
        return None
    value = _int(env, name, 0)
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be a port number (1-65535), got {value}")
    return value


def _names(value: str | None) -> list[str]:
    """A comma-separated list of dotted names."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _dev_secrets(instance_path: str) -> dict[str, str]:
    """Random development secrets, kept in the instance folder so that tokens
    survive a restart of `make run` without any secret living in the repo."""
    path = Path(instance_path) / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = [name for name in (*SECRET_SETTINGS, "SECRET_KEY") if name not in stored]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _check_production_secrets(env: dict) -> None:
    """One line naming the JWT secrets that are too short, or equal to another
    (a token of one kind would then verify as another); never their values."""
    short = [name for name in SECRET_SETTINGS if len(env[name].encode()) < MIN_JWT_SECRET_BYTES]
    if short:
        raise ConfigError(
            f"APP_ENV=production needs JWT secrets of at least {MIN_JWT_SECRET_BYTES} bytes: "
            + ", ".join(short)
        )
    equal = [
        f"{first} and {second}"
        for index, first in enumerate(SECRET_SETTINGS)
        for second in SECRET_SETTINGS[index + 1 :]
        if env[first] == env[second]
    ]
    if equal:
        raise ConfigError(
            "APP_ENV=production needs four different JWT secrets; equal: " + "; ".join(equal)
        )


def _is_sqlite(database_url: str) -> bool:
    scheme = database_url.split(":", 1)[0]
    return scheme.split("+", 1)[0].strip().lower() == "sqlite"


def load_config(instance_path: str, env: dict | None = None) -> dict:
    """Build the Flask config mapping from ``env`` (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    app_env = _choice(env, "APP_ENV", APP_ENVS, "development")
    production = app_env == "production"

    if production:
        missing = [
            name
            for name in ("DATABASE_URL", "SECRET_KEY", *SECRET_SETTINGS)
            if not env.get(name, "").strip()
        ]
        if missing:
            raise ConfigError(
                "APP_ENV=production needs these environment variables set: " + ", ".join(missing)
            )
        _check_production_secrets(env)
        if _is_sqlite(env["DATABASE_URL"]) and not _bool(env, "ALLOW_SQLITE_IN_PRODUCTION", False):
            raise ConfigError(
                "APP_ENV=production refuses a SQLite DATABASE_URL;"
                " set ALLOW_SQLITE_IN_PRODUCTION=true to use one anyway"
            )
        secret_values = {name: env[name] for name in (*SECRET_SETTINGS, "SECRET_KEY")}
    else:
        given = {n: env[n] for n in (*SECRET_SETTINGS, "SECRET_KEY") if env.get(n, "").strip()}
        secret_values = given
        if len(given) < len(SECRET_SETTINGS) + 1:
            secret_values = {**_dev_secrets(instance_path), **given}

    database_url = env.get("DATABASE_URL", "").strip() or (
        "sqlite:///" + str(Path(instance_path) / "customer-service.sqlite3")
    )
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        # psycopg 3 is the driver we install; a bare URL would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]

    plugins = _names(env.get("PLUGINS"))

    config = {
        "APP_ENV": app_env,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: SQL logs and database errors never show the values
        # bound to a statement (password hashes, token digests, emails).
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # A ping before every checkout costs a round trip per request; a
            # connection found dead instead invalidates the pool (its request fails).
            "pool_pre_ping": _bool(env, "DATABASE_POOL_PRE_PING", False),
            "hide_parameters": True,
        },
        # Hot reads on the driver's cursor (app/driver_reads.py); off, every
        # read goes through SQLAlchemy's execution.
        "DATABASE_DRIVER_READS": _bool(env, "DATABASE_DRIVER_READS", True),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        **_graphql_limits(env),
        "JWT_ISSUER": env.get("JWT_ISSUER", "evershop").strip() or "evershop",
        "JWT_ADMIN_TOKEN_EXPIRY": _int(env, "JWT_ADMIN_TOKEN_EXPIRY", 900),
        "JWT_ADMIN_REFRESH_TOKEN_EXPIRY": _int(env, "JWT_ADMIN_REFRESH_TOKEN_EXPIRY", 54000),
        "JWT_CUSTOMER_TOKEN_EXPIRY": _int(env, "JWT_CUSTOMER_TOKEN_EXPIRY", 1800),
        "JWT_CUSTOMER_REFRESH_TOKEN_EXPIRY": _int(env, "JWT_CUSTOMER_REFRESH_TOKEN_EXPIRY", 108000),
        "BCRYPT_ROUNDS": _int(env, "BCRYPT_ROUNDS", 10),
        "PASSWORD_MIN_LENGTH": _int(env, "PASSWORD_MIN_LENGTH", 8),
        "CUSTOMER_REGISTRATION_OPEN": _bool(env, "CUSTOMER_REGISTRATION_OPEN", True),
        "PLUGINS": plugins,
        "PLUGINS_BLOCKED": _names(env.get("PLUGINS_BLOCKED")),
        # Set (even empty): exactly these entry-point plugins; unset: all installed.
        "PLUGINS_ONLY": _names(env["PLUGINS_ONLY"]) if "PLUGINS_ONLY" in env else None,
        "PLUGINS_TRACE": _bool(env, "PLUGINS_TRACE", False),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": _log_format(env),
        # Metrics (docs/operations.md, "Metrics"): the bearer token of /metrics
        # on the service's port, and the separate listener gunicorn's master opens.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip() or None,
        "METRICS_PORT": _port(env, "METRICS_PORT"),
        "METRICS_HOST": env.get("METRICS_HOST", "").strip() or None,
        # Events (docs/architecture.md, "Events").
        "EVENTS_DELIVERY": _choice(
            env, "EVENTS_DELIVERY", ("thread", "inline", "worker"), "thread"
        ),
        "EVENTS_POLL_INTERVAL": _number(env, "EVENTS_POLL_INTERVAL", 0.0 if production else 5.0),
        "EVENTS_RETRY_DELAY": _number(env, "EVENTS_RETRY_DELAY", 30.0),
        "EVENTS_RETRY_MAX_DELAY": _number(env, "EVENTS_RETRY_MAX_DELAY", 900.0),
        # A failing event is given up this long after it was emitted (24 h).
        "EVENTS_MAX_AGE": _number(env, "EVENTS_MAX_AGE", 86400.0),
        # How long a process holds the events it is delivering.
        "EVENTS_LEASE": _number(env, "EVENTS_LEASE", 300.0),
        # Mail (Flask-Mail); no MAIL_SERVER: mail is written to the log instead.
        "MAIL_SERVER": env.get("MAIL_SERVER", "").strip() or None,
        "MAIL_PORT": _int(env, "MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool(env, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool(env, "MAIL_USE_SSL", False),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", "").strip() or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "").strip() or "no-reply@localhost",
        # Seconds to wait for the mail server at each step, connecting included.
        "MAIL_TIMEOUT": _number(env, "MAIL_TIMEOUT", 10.0),
        "MAIL_TEMPLATES_DIR": env.get("MAIL_TEMPLATES_DIR", "").strip() or None,
        # Rate limits (docs/api.md, "Rate limits") and CORS.
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://",
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "").strip() or "customer-service",
        **{
            f"RATELIMIT_{name}": _limit(env, f"RATELIMIT_{name}", default)
            for name, default in RATE_LIMITS.items()
        },
        **{
            f"RATELIMIT_{name}": _single_limit(env, f"RATELIMIT_{name}", default)
            for name, default in LOGIN_FAILURE_LIMITS.items()
        },
        # The longest wait, in seconds, of an account past its ceiling.
        "RATELIMIT_LOGIN_DELAY_MAX": _whole_seconds(env, "RATELIMIT_LOGIN_DELAY_MAX", 900),
        "TRUSTED_PROXIES": _networks(env, "TRUSTED_PROXIES"),
        "CORS_ORIGINS": _names(env.get("CORS_ORIGINS")),
        # Password reset (docs/api.md, "Password reset").
        "STOREFRONT_URL": (env.get("STOREFRONT_URL", "").strip() or "http://localhost:3000").rstrip(
            "/"
        ),
        "RESET_PASSWORD_TOKEN_LIFETIME": _int(env, "RESET_PASSWORD_TOKEN_LIFETIME", 48 * 3600),
        # Lists count at most this many matching rows (docs/api.md, "Counting"); 0: all.
        "LIST_COUNT_LIMIT": _int(env, "LIST_COUNT_LIMIT", 10_000),
        **secret_values,
    }
    if config["LIST_COUNT_LIMIT"] < 0:
        raise ConfigError(
            f"LIST_COUNT_LIMIT must not be negative, got {config['LIST_COUNT_LIMIT']}"
        )
    if not 4 <= config["BCRYPT_ROUNDS"] <= 31:
        raise ConfigError("BCRYPT_ROUNDS must be between 4 and 31")
    for name, least in (("MAIL_TIMEOUT", 0.1), ("EVENTS_LEASE", 10)):
        if config[name] < least:
            raise ConfigError(f"{name} must be at least {least} seconds, got {config[name]:g}")
    return config


def startup_warnings(config) -> list[str]:
    """What a service may start with but an operator should hear about, once
    per process (the factory logs each as a WARNING)."""
    warnings = []
    if config["APP_ENV"] == "production" and not config.get("MAIL_SERVER"):
        warnings.append(
            "MAIL_SERVER is not set: reset-password emails are not sent, they wait"
            " in the event outbox until it is"
        )
    return warnings
