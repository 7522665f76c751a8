"""The coexistence suite: the real EverShop 2.2.1 and this service on one database.

Run it with ``make test-evershop`` (docs/evershop.md). Every test in this
folder is marked ``evershop``, which plain ``make test`` deselects. The suite
fails, never skips, when EverShop cannot be installed or PostgreSQL is missing.

Once per session: EverShop is installed (cached), a database is copied from
the template that ``evershop install`` migrated, ``evershop start`` serves on
it, and this service adopts the same database with plain ``flask db upgrade``
and shares EverShop's JWT secrets. Tests share that database, so each makes
its own emails; tests of the adoption itself make databases of their own
(``fresh_evershop_database``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.db import db
from scripts import evershop as harness
from tests.evershop.helpers import new_email

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()

# Both sides sign and check tokens with these (EverShop's variable names).
JWT = {
    "JWT_ADMIN_SECRET": "coexist-admin-secret-0123456789abcdef",
    "JWT_ADMIN_REFRESH_SECRET": "coexist-admin-refresh-secret-01234567",
    "JWT_CUSTOMER_SECRET": "coexist-customer-secret-0123456789abc",
    "JWT_CUSTOMER_REFRESH_SECRET": "coexist-customer-refresh-secret-0123",
    "JWT_ISSUER": "evershop",
}

EVERSHOP_ADMIN_EMAIL = "shop.admin@example.com"
EVERSHOP_ADMIN_PASSWORD = "shop-admin-pass-1"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.evershop)


def _stop_session(message: str):
    # One line and a failing exit status, instead of an error per test.
    pytest.exit(f"EverShop suite: {message}", returncode=1)


@pytest.fixture(scope="session")
def evershop_cache() -> Path:
    """EverShop installed and built (the first run takes a few minutes)."""
    try:
        return harness.install()
    except harness.EverShopError as error:
        _stop_session(str(error))


@pytest.fixture(scope="session")
def evershop_database(evershop_cache) -> str:
    """A database with EverShop's schema, beside the one TEST_DATABASE_URL names."""
    if not PG_URL:
        _stop_session("TEST_DATABASE_URL must name a PostgreSQL database")
    name = f"{sa.make_url(PG_URL).database}_evershop_{os.getpid()}"
    try:
        url = harness.create_database(PG_URL, name, evershop_cache)
    except harness.EverShopError as error:
        _stop_session(str(error))
    yield url
    harness.drop_database(url)


@pytest.fixture(scope="session")
def evershop(evershop_database, evershop_cache, tmp_path_factory) -> harness.EverShop:
    """``evershop start`` on the session's database; ``.url`` is its base URL."""
    shop = harness.EverShop(
        evershop_database,
        env=JWT,
        cache_dir=evershop_cache,
        log_path=tmp_path_factory.mktemp("evershop") / "evershop.log",
    )
    try:
        shop.start()
        shop.create_admin(EVERSHOP_ADMIN_EMAIL, EVERSHOP_ADMIN_PASSWORD, "Shop Admin")
    except harness.EverShopError as error:
        shop.stop()
        _stop_session(str(error))
    yield shop
    shop.stop()


@pytest.fixture
def evershop_admin_token(evershop) -> str:
    """A fresh admin access token from EverShop's ``POST /api/user/tokens``."""
    return evershop.admin_token(EVERSHOP_ADMIN_EMAIL, EVERSHOP_ADMIN_PASSWORD)


def _service_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        **JWT,
        "SECRET_KEY": "coexist-secret-key",
        "BCRYPT_ROUNDS": 10,  # EverShop's cost
        "EVENTS_DELIVERY": "worker",
        "MAIL_SERVER": None,
        "RATELIMIT_ENABLED": False,
        "PLUGINS_ONLY": [],  # the service as EverShop's stores get it: no installed extras
    }


@pytest.fixture(scope="session")
def service_app(evershop, evershop_database):
    """This service's app on EverShop's database, adopted while EverShop runs.

    Side effect: plain ``flask db upgrade`` adopts the database (the pre-flight
    check, ``stamp 0001``, then every revision: docs/evershop.md).
    """
    app = create_app(_service_config(evershop_database))
    adopted = app.test_cli_runner().invoke(args=["db", "upgrade"])
    if adopted.exit_code != 0:
        _stop_session(f"flask db upgrade did not adopt EverShop's database: {adopted.output}")
    with app.app_context():
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def service(service_app):
    """The Flask test client of this service."""
    return service_app.test_client()


@pytest.fixture
def service_admin_token(service_app, service) -> str:
    """A fresh admin of this service and its token from its ``POST /api/user/tokens``."""
    from app.auth.service import create_admin_user

    email, password = new_email("service-admin"), "service-admin-pass-1"
    with service_app.app_context():
        create_admin_user(email, password, "Service Admin")
        db.session.remove()
    answer = service.post("/api/user/tokens", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.json
    return answer.json["data"]["accessToken"]


@pytest.fixture
def database(evershop_database, service_app):
    """Run one SQL statement on the shared database and commit it:
    ``database(sql, **params)`` → its rows (none for a statement without)."""

    def run(statement: str, **params):
        with service_app.app_context():
            result = db.session.execute(sa.text(statement), params)
            rows = result.all() if result.returns_rows else []
            db.session.commit()
            db.session.remove()
        return rows

    return run


@pytest.fixture
def fresh_evershop_database(evershop_cache, evershop_database) -> str:
    """A database of the test's own, copied from EverShop's template (nobody
    serves it); dropped afterwards."""
    name = f"{sa.make_url(evershop_database).database}_{uuid.uuid4().hex[:8]}"
    try:
        url = harness.create_database(PG_URL, name, evershop_cache)
    except harness.EverShopError as error:
        _stop_session(str(error))
    yield url
    harness.drop_database(url)
