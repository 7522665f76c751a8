"""The pytest plugin for testing a plugin (docs/plugins.md, "Testing a plugin").

Installed with the service and loaded by pytest through the ``pytest11`` entry
point ``evershop_customer_service``, so a plugin's own test suite needs no
conftest of its own. The plugins under test are named in the suite's pytest
configuration — entry point names, loaded as ``PLUGINS_ONLY``, so no other
installed plugin takes part::

    [tool.pytest.ini_options]
    evershop_plugins = ["loyalty"]

Fixtures (all prefixed or specific, so they do not clash with a suite's own;
none is autouse):

* ``service_database_url`` (session): a database migrated with the core's and
  the plugins' revisions (``flask db upgrade``, every branch's head): a SQLite
  file in a temporary folder, or, when ``TEST_DATABASE_URL`` names a
  PostgreSQL server, a database of its own beside that one, dropped at the end.
* ``service_app_factory``: ``factory(plugins=None, **config)`` builds the
  service with ``plugins`` (default: ``evershop_plugins``) and config values
  (the plugins' settings included), migrating the database further when a
  plugin is new to it. Every table is emptied after the test
  (``customer_group`` keeps its row 1, "Default").
* ``service_config``: ``{}``; override it in a module or conftest to give
  every ``service_app`` there config values (a file under ``tmp_path``).
* ``service_app``: ``factory(**service_config)``, with what the test's
  ``@pytest.mark.service_config(plugins=[...], SETTING=value)`` adds.
* ``service_client``: its test client.
* ``admin_headers``: ``Authorization`` headers of an admin (made on first use).
* ``make_customer``: ``make_customer(email=None, password=CUSTOMER_PASSWORD,
  full_name="John Smith", **fields)`` creates a customer through the admin
  API and returns it as the API shows it.
* ``customer_headers``: ``customer_headers(customer_or_email,
  password=CUSTOMER_PASSWORD)`` logs a customer in and returns its headers.
* ``deliver_events``: delivers the events due in the outbox, for apps built
  with ``EVENTS_DELIVERY="worker"`` (by default events are delivered inline,
  before the request that caused them answers).

Apps read no setting from the environment: bcrypt uses 4 rounds, rate limits
are off, mail goes to the log, and the JWT secrets are fixed test values.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from pathlib import Path

import pytest

INI_PLUGINS = "evershop_plugins"
MARKER = "service_config"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
CUSTOMER_PASSWORD = "customer-pass-1"

# The environment apps are built with: secrets only, so that nothing of the
# developer's shell (PLUGINS, DATABASE_URL...) reaches a test, and no
# development secret is written into the service's instance folder.
ENV = {
    "SECRET_KEY": "plugin-test-secret-key",
    "JWT_ADMIN_SECRET": "plugin-test-admin-secret-0123456789abcdef",
    "JWT_ADMIN_REFRESH_SECRET": "plugin-test-admin-refresh-secret-012345",
    "JWT_CUSTOMER_SECRET": "plugin-test-customer-secret-0123456789ab",
    "JWT_CUSTOMER_REFRESH_SECRET": "plugin-test-customer-refresh-secret-01",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_PLUGINS,
        type="args",
        default=[],
        help="entry point names of the evershop plugins under test (loaded as PLUGINS_ONLY)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(plugins=None, **config): build this test's service_app with these"
        " plugins (entry point names) and config values",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    plugins = config.getini(INI_PLUGINS)
    if not plugins:
        return None
    return f"evershop plugins: {', '.join(plugins)}; database: {_backend()}"


def config_for(database_url: str, plugins: list[str]) -> dict:
    """The config of a test app on ``database_url`` with exactly ``plugins``
    (entry point names) besides the built-in ones."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PLUGINS": [],
        "PLUGINS_ONLY": list(plugins),
        "PLUGINS_BLOCKED": [],
        "BCRYPT_ROUNDS": 4,
        "RATELIMIT_ENABLED": False,
        "MAIL_SERVER": None,
        "EVENTS_DELIVERY": "inline",
    }


# --- the database --------------------------------------------------------------------------


def _pg_base() -> str:
    return os.environ.get("TEST_DATABASE_URL", "").strip()


def _backend() -> str:
    return "postgresql" if _pg_base() else "sqlite"


def _pg_url(url: str):
    import sqlalchemy as sa

    url = sa.make_url(url)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def _create_pg_database(base_url: str) -> str:
    import sqlalchemy as sa

    base = _pg_url(base_url)
    name = f"{base.database}_plugin_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {error}", 2)
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    import sqlalchemy as sa

    url = sa.make_url(url)
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()


class ServiceDatabase:
    """The session's database: migrated for the plugins apps were built with."""

    def __init__(self, url: str):
        self.url = url
        self.migrated: set[str] | None = None  # the plugins whose revisions ran

    def migrate(self, plugins: list[str]) -> None:
        """``flask db upgrade`` with these plugins and every one migrated
        before (a database never loses a plugin's revisions: an app without
        the plugin would refuse them)."""
        if self.migrated is not None and set(plugins) <= self.migrated:
            return
        names = sorted(set(plugins) | (self.migrated or set()))
        app = _build(self.url, names, {})
        try:
            result = app.test_cli_runner().invoke(args=["db", "upgrade"])
            if result.exit_code != 0:
                raise RuntimeError(
                    f"flask db upgrade failed with plugins {names}:\n{result.output}"
                ) from result.exception
        finally:
            _dispose(app)
        self.migrated = set(names)

    def empty(self) -> None:
        """Empty every table but ``alembic_version`` (the plugins' included);
        ``customer_group`` keeps row 1. Ids start again from 1."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                # Children before their parents.
                ordered = sa.inspect(conn).get_sorted_table_and_fkc_names()
                tables = [
                    name
                    for name, _ in reversed(ordered)
                    if name is not None and name not in {"alembic_version", "customer_group"}
                ]
                quoted = [conn.dialect.identifier_preparer.quote(name) for name in tables]
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text(f"TRUNCATE {', '.join(quoted)} RESTART IDENTITY CASCADE"))
                else:
                    for name in quoted:
                        conn.execute(sa.text(f"DELETE FROM {name}"))
                    if sa.inspect(conn).has_table("sqlite_sequence"):
                        conn.execute(sa.text("DELETE FROM sqlite_sequence"))
                conn.execute(sa.text("DELETE FROM customer_group WHERE customer_group_id <> 1"))
        finally:
            engine.dispose()


def _build(database_url: str, plugins: list[str], overrides: dict):
    from app import create_app

    return create_app({**config_for(database_url, plugins), **overrides}, env=dict(ENV))


def _dispose(app) -> None:
    from app.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _suite_plugins(config: pytest.Config) -> list[str]:
    return list(config.getini(INI_PLUGINS))


@pytest.fixture(scope="session")
def service_database(request: pytest.FixtureRequest):
    """The session's :class:`ServiceDatabase`, migrated for ``evershop_plugins``."""
    base = _pg_base()
    if base:
        url = _create_pg_database(base)
    else:
        folder = Path(tempfile.mkdtemp(prefix="evershop-plugin-tests-"))
        url = f"sqlite:///{folder / 'service.sqlite3'}"
    database = ServiceDatabase(url)
    try:
        database.migrate(_suite_plugins(request.config))
        yield database
    finally:
        if base:
            _drop_pg_database(url)


@pytest.fixture(scope="session")
def service_database_url(service_database: ServiceDatabase) -> str:
    """The URL of the session's migrated database."""
    return service_database.url


# --- apps ----------------------------------------------------------------------------------


@pytest.fixture
def service_app_factory(request: pytest.FixtureRequest, service_database: ServiceDatabase):
    """``factory(plugins=None, **config)``: the service with these plugins
    (entry point names; default ``evershop_plugins``) and config values.
    Every table is emptied after the test."""
    made = []

    def factory(plugins: list[str] | None = None, **config):
        names = _suite_plugins(request.config) if plugins is None else list(plugins)
        service_database.migrate(names)
        app = _build(service_database.url, names, config)
        made.append(app)
        return app

    yield factory
    for app in made:
        _dispose(app)
    if made:
        service_database.empty()


@pytest.fixture
def service_config() -> dict:
    """Config values every ``service_app`` of a module or folder is built
    with: override this fixture there (e.g. a file path under ``tmp_path``)."""
    return {}


@pytest.fixture
def service_app(request: pytest.FixtureRequest, service_app_factory, service_config):
    """The service with ``evershop_plugins`` and ``service_config``, and what
    the test's ``@pytest.mark.service_config(plugins=[...], **config)`` adds."""
    marker = request.node.get_closest_marker(MARKER)
    return service_app_factory(**{**service_config, **(marker.kwargs if marker else {})})


@pytest.fixture
def service_client(service_app):
    return service_app.test_client()


@pytest.fixture
def admin_headers(service_app, service_client) -> dict:
    """The headers of an admin's access token (the admin is made here)."""
    from app.auth.service import create_admin_user

    with service_app.app_context():
        create_admin_user(ADMIN_EMAIL, ADMIN_PASSWORD, "Admin")
    response = service_client.post(
        "/api/user/tokens", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['data']['accessToken']}"}


@pytest.fixture
def make_customer(service_client, admin_headers):
    """``make_customer(email=None, password=CUSTOMER_PASSWORD, full_name="John
    Smith", **fields)``: a customer created by the admin API, as it answered
    (a new email each call unless given)."""
    numbers = itertools.count(1)

    def make(email=None, password=CUSTOMER_PASSWORD, full_name="John Smith", **fields):
        body = {
            "email": email or f"customer{next(numbers)}@example.com",
            "password": password,
            "full_name": full_name,
            **fields,
        }
        response = service_client.post("/api/customers", json=body, headers=admin_headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    return make


@pytest.fixture
def customer_headers(service_client):
    """``customer_headers(customer_or_email, password=CUSTOMER_PASSWORD)``:
    the headers of the customer's access token, through a real login."""

    def headers(customer, password=CUSTOMER_PASSWORD) -> dict:
        email = customer["email"] if isinstance(customer, dict) else customer
        response = service_client.post(
            "/api/customer/tokens", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['data']['accessToken']}"}

    return headers


@pytest.fixture
def deliver_events(service_app):
    """``deliver_events()``: deliver every due event of the outbox to its
    subscribers, as ``flask events run --once`` does; returns how many were
    delivered to all of their subscribers."""
    from app.db import db
    from app.events import deliver

    def run() -> int:
        delivered = 0
        with service_app.app_context():
            # Subscribers may emit events of their own: deliver those too. What
            # fails is due again only after its backoff, so this ends.
            for _ in range(100):
                report = deliver()
                delivered += report.delivered
                if not report.ids:
                    break
            db.session.remove()
        return delivered

    return run
