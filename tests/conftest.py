"""Fixtures: every test that takes ``app`` (or ``client``) runs on SQLite, and
on PostgreSQL as well when ``TEST_DATABASE_URL`` is set.

Each backend's database is migrated once per session with the real Alembic
revisions; each test starts from empty tables (group 1 "Default" kept, and
named so again).
"""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from pluggy import PluginManager

from app import create_app
from app.db import db

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.plugins.* importable by dotted name

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Tables emptied between tests, children first.
TABLES = (
    "webhook_delivery",
    "webhook_endpoint",
    "event_outbox",
    "reset_password_token",
    "customer_email_token",
    "customer_email_verification",
    "customer_erasure_token",
    "customer_event",
    "revoked_session",
    "customer_address",
    "customer",
    "admin_user",
)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"


def core_head() -> str:
    """The head revision of the core's migrations (plugins' branches aside)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def pytest_report_header(config):
    return f"databases: {', '.join(BACKENDS)}"


def pytest_sessionstart(session):
    if IN_CI and not PG_URL:
        pytest.exit("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests cannot run", 2)


def _pg_url(url: str) -> sa.URL:
    url = sa.make_url(url)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def _fresh_pg_database(base_url: str) -> str:
    """A database of our own beside the one named in TEST_DATABASE_URL."""
    url = _pg_url(base_url)
    # One database per test run, so that parallel runs never share one.
    name = f"{url.database}_customer_service_{os.getpid()}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {error}", 2)
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory) -> dict[str, str]:
    """Migrated databases, one per backend, made once per session."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"}
    if PG_URL:
        urls["postgresql"] = _fresh_pg_database(PG_URL)
    for url in urls.values():
        app = create_app(_base_config(url))
        with app.app_context():
            upgrade()
            db.engine.dispose()
    yield urls
    if PG_URL:
        _drop_pg_database(urls["postgresql"])


def _drop_pg_database(url: str) -> None:
    url = sa.make_url(url)
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def fresh_database_url(backend, tmp_path) -> str:
    """An empty database of this test's own on its backend, dropped after it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    base = _pg_url(PG_URL)
    name = f"{base.database}_fresh_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    _drop_pg_database(url)


def _base_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "BCRYPT_ROUNDS": 4,
        "JWT_ADMIN_SECRET": "test-admin-secret-0123456789abcdef",
        "JWT_ADMIN_REFRESH_SECRET": "test-admin-refresh-secret-0123456789",
        "JWT_CUSTOMER_SECRET": "test-customer-secret-0123456789abcd",
        "JWT_CUSTOMER_REFRESH_SECRET": "test-customer-refresh-secret-012345",
        "SECRET_KEY": "test-secret-key",
        # Events stay in the outbox for the tests to read; delivery tests ask
        # for "inline" or run the worker themselves.
        "EVENTS_DELIVERY": "worker",
        "MAIL_SERVER": None,
        # The suite logs in hundreds of times from one address; the limits
        # have tests of their own that switch them on.
        "RATELIMIT_ENABLED": False,
        # No installed package's plugin (the examples, a store's) loads unless
        # a test names it: the suite tests the core and its built-in plugins.
        "PLUGINS_ONLY": [],
    }


def _empty_tables(app) -> None:
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
            conn.execute(sa.text("DELETE FROM customer_group WHERE customer_group_id <> 1"))
            # The default group may be renamed through the API.
            conn.execute(
                sa.text(
                    "UPDATE customer_group SET group_name = 'Default' WHERE customer_group_id = 1"
                )
            )
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_app(backend, database_urls):
    """Build an app on this test's backend with extra config (e.g. ``PLUGINS``).

    Tables are emptied after the test.
    """
    made = []

    def factory(**overrides):
        app = create_app({**_base_config(database_urls[backend]), **overrides})
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if made:
        _empty_tables(made[0])


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def register_plugin(app):
    """Register a plugin object for one test; it is removed afterwards."""
    pm = app.extensions["plugins"]
    added = []

    def register(plugin, name=None):
        added.append(pm.register(plugin, name=name))
        return plugin

    yield register
    for name in added:
        pm.unregister(name=name)


@dataclass
class Auth:
    """Real tokens through the real endpoints."""

    app: object
    client: object

    def create_admin(self, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, full_name="Admin"):
        from app.auth.service import create_admin_user

        with self.app.app_context():
            return create_admin_user(email, password, full_name).to_dict()

    def admin_tokens(self, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) -> dict:
        response = self.client.post("/api/user/tokens", json={"email": email, "password": password})
        assert response.status_code == 200, response.json
        return response.json["data"]

    def admin_headers(self) -> dict:
        if not hasattr(self, "_admin_headers"):
            self.create_admin()
            token = self.admin_tokens()["accessToken"]
            self._admin_headers = {"Authorization": f"Bearer {token}"}
        return self._admin_headers

    def create_customer(
        self,
        email="john.smith@example.com",
        password="customer-pass-1",
        full_name="John Smith",
        **extra,
    ) -> dict:
        body = {"email": email, "password": password, "full_name": full_name, **extra}
        response = self.client.post("/api/customers", json=body, headers=self.admin_headers())
        assert response.status_code == 201, response.json
        data = response.json["data"]
        # EverShop's name for the new id, in create answers only (docs/api.md).
        assert data.pop("insertId") == data["customer_id"]
        return data

    def customer_tokens(self, email="john.smith@example.com", password="customer-pass-1") -> dict:
        response = self.client.post(
            "/api/customer/tokens", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.json
        return response.json["data"]

    def customer_headers(self, email="john.smith@example.com", password="customer-pass-1") -> dict:
        token = self.customer_tokens(email, password)["accessToken"]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(app, client) -> Auth:
    return Auth(app, client)


@pytest.fixture
def events(app):
    """The names and payloads in the event outbox, oldest first."""

    def read():
        with app.app_context():
            rows = db.session.execute(
                sa.text("SELECT name, payload FROM event_outbox ORDER BY event_outbox_id")
            ).all()
            db.session.remove()
        import json

        return [
            (name, payload if isinstance(payload, dict) else json.loads(payload))
            for name, payload in rows
        ]

    return read


@pytest.fixture
def site_dir(tmp_path, monkeypatch):
    """Install files (modules, dist-info directories) into a directory that is
    put on ``sys.path`` for this test only, as if a package were installed."""
    modules = []

    def install(files: dict[str, str]) -> None:
        for relative, text in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
            if path.suffix == ".py" and path.parent == tmp_path:
                modules.append(path.stem)
        monkeypatch.syspath_prepend(str(tmp_path))  # also invalidates import caches

    yield install
    for name in modules:
        sys.modules.pop(name, None)


# --- a test named for a hook must call it -------------------------------------------


def _hooks_named_by(test_name: str) -> list[str]:
    """The hooks whose names the test's name holds, as whole words (the
    longest, where one hook's name holds another's)."""
    from tests.helpers import hookspecs

    words = f"_{test_name}_"
    named = [name for name in hookspecs() if f"_{name}_" in words]
    return [name for name in named if not any(name != other and name in other for other in named)]


@pytest.fixture(autouse=True)
def _record_hook_calls(request, monkeypatch):
    """Record, for a test named for a hook, the hooks called (with at least one
    implementation to run) from its set-up on."""
    if not _hooks_named_by(request.node.originalname or request.node.name):
        return
    called = request.node.stash.setdefault(_HOOKS_CALLED, set())

    run_hooks = PluginManager._hookexec

    # Every hook call, a historic one replayed for a plugin registered late
    # included, goes through the manager's _hookexec with the implementations to run.
    def recording(manager, hook_name, methods, kwargs, firstresult):
        if methods:
            called.add(hook_name)
        return run_hooks(manager, hook_name, methods, kwargs, firstresult)

    monkeypatch.setattr(PluginManager, "_hookexec", recording)


_HOOKS_CALLED = pytest.StashKey[set]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test named for a hook fails unless that hook ran while it did: a
    hook's test has to exercise it, not only mention it. A test whose name
    says the hook is ``not_called`` asserts just that, and is left alone."""
    result = yield
    name = getattr(item, "originalname", item.name)
    if "not_called" not in name:
        called = item.stash.get(_HOOKS_CALLED, set())
        missing = [hook for hook in _hooks_named_by(name) if hook not in called]
        assert not missing, f"{name} is named for {missing} but never calls it"
    return result
