"""The pytest plugin the service ships for plugins' own test suites
(app/testing.py; docs/plugins.md, "Testing a plugin").

A plugin's suite is run the way its author runs it: pytest in a process of
its own, in the plugin's folder, with the service's pytest plugin loaded
through its ``pytest11`` entry point (``-p evershop_customer_service``, every
other plugin's autoload off). Two plugins are installed there as packages
with entry points (``one``, with a table of its own, and ``two``); the suite
names ``one`` only. Each test here checks one test of that suite.
"""

from __future__ import annotations

import pytest

import app.testing
from tests.plugin_suites import outcomes, run_suite, write

ONE = {
    "evershop_one/__init__.py": """
        from pathlib import Path

        import sqlalchemy as sa
        from app.plugin_api import hookimpl

        metadata = sa.MetaData()
        marks = sa.Table("one_mark", metadata, sa.Column("mark_id", sa.Integer, primary_key=True))


        @hookimpl
        def register_migrations():
            return Path(__file__).parent / "migrations"
    """,
    "evershop_one/migrations/one_0001_marks.py": """
        import sqlalchemy as sa
        from alembic import op

        revision = "one_0001"
        down_revision = None
        branch_labels = ("one",)
        depends_on = "0001"


        def upgrade():
            op.create_table("one_mark", sa.Column("mark_id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("one_mark")
    """,
    "evershop_two.py": """
        from app.plugin_api import hookimpl


        @hookimpl
        def subscribe():
            return {}
    """,
    "evershop_pair-1.0.dist-info/METADATA": """
        Metadata-Version: 2.1
        Name: evershop-pair
        Version: 1.0
    """,
    "evershop_pair-1.0.dist-info/entry_points.txt": """
        [evershop.plugins]
        one = evershop_one
        two = evershop_two
    """,
}

SUITE = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        evershop_plugins = ["one"]
    """,
    # Tests run in file order: the second checks what the first left behind.
    "tests/test_suite.py": """
        import pytest
        import sqlalchemy as sa
        from app.plugin_api import db
        from evershop_one import marks


        def count(app, table):
            with app.app_context():
                found = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                db.session.remove()
            return found


        def test_named_plugin_loads_alone(service_app):
            pm = service_app.extensions["plugins"]
            assert pm.has_plugin("one")
            assert not pm.has_plugin("two")
            assert service_app.config["PLUGINS_ONLY"] == ["one"]


        def test_writes(service_app, make_customer):
            make_customer()
            with service_app.app_context():
                db.session.execute(sa.insert(marks).values(mark_id=7))
                db.session.execute(sa.text("INSERT INTO customer_group (group_name) VALUES ('B')"))
                db.session.commit()
                db.session.remove()


        def test_tables_emptied(service_app):
            assert count(service_app, "customer") == 0
            assert count(service_app, "one_mark") == 0
            assert count(service_app, "customer_group") == 1


        def test_ids_start_again(make_customer):
            assert make_customer()["customer_id"] == 1


        @pytest.mark.service_config(plugins=["one", "two"], PASSWORD_MIN_LENGTH=20)
        def test_marker(service_app):
            assert service_app.extensions["plugins"].has_plugin("two")
            assert service_app.config["PASSWORD_MIN_LENGTH"] == 20


        def test_factory(service_app_factory):
            app = service_app_factory(plugins=[])
            assert not app.extensions["plugins"].has_plugin("one")


        def test_tokens(service_client, make_customer, admin_headers, customer_headers):
            customer = make_customer(email="jane@example.com")
            me = service_client.get("/api/customers/me", headers=customer_headers(customer))
            listed = service_client.get("/api/customers", headers=admin_headers)
            assert me.get_json()["data"]["email"] == "jane@example.com"
            assert listed.get_json()["data"]["total"] == 1


        def test_inline_events(service_app, make_customer):
            make_customer()
            assert count(service_app, "event_outbox") == 0


        @pytest.mark.service_config(EVENTS_DELIVERY="worker")
        def test_deliver_events(service_app, make_customer, deliver_events):
            make_customer()
            waiting = count(service_app, "event_outbox")
            assert (waiting, deliver_events(), count(service_app, "event_outbox")) == (1, 1, 0)


        def test_fast_settings(service_app):
            config = service_app.config
            assert (config["BCRYPT_ROUNDS"], config["RATELIMIT_ENABLED"]) == (4, False)


        def test_no_autouse(request):
            assert not {"service_app", "service_database", "service_client"} & set(
                request.fixturenames
            )
    """,
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("plugin-suite")
    write(root / "site", ONE)
    write(root / "project", SUITE)
    report = root / "report.xml"
    done = run_suite(root / "project", report, root / "site")
    assert report.exists(), done.stdout + done.stderr
    return outcomes(report)


def test_the_pytest_plugin_is_registered_as_the_pytest11_entry_point():
    from importlib import metadata

    [entry_point] = [
        ep for ep in metadata.entry_points(group="pytest11") if ep.value == "app.testing"
    ]

    assert entry_point.name == "evershop_customer_service"


def test_evershop_plugins_loads_exactly_the_named_entry_point_plugins(suite):
    assert suite["test_named_plugin_loads_alone"] == "passed"


def test_every_table_is_emptied_after_a_test_plugin_tables_included(suite):
    assert (suite["test_writes"], suite["test_tables_emptied"]) == ("passed", "passed")


def test_ids_start_from_one_in_every_test(suite):
    assert suite["test_ids_start_again"] == "passed"


def test_service_config_marker_sets_the_plugins_and_config(suite):
    assert suite["test_marker"] == "passed"


def test_service_app_factory_builds_an_app_with_other_plugins(suite):
    assert suite["test_factory"] == "passed"


def test_admin_and_customer_headers_are_real_tokens(suite):
    assert suite["test_tokens"] == "passed"


def test_events_are_delivered_inline_by_default(suite):
    assert suite["test_inline_events"] == "passed"


def test_deliver_events_delivers_the_outbox(suite):
    assert suite["test_deliver_events"] == "passed"


def test_apps_hash_passwords_fast_and_have_no_rate_limits(suite):
    assert suite["test_fast_settings"] == "passed"


def test_no_fixture_of_the_pytest_plugin_is_autouse(suite):
    assert suite["test_no_autouse"] == "passed"


def test_the_core_suite_has_the_pytest_plugin_without_its_fixtures_in_use(request):
    assert request.config.pluginmanager.get_plugin("evershop_customer_service") is app.testing
    assert not set(request.fixturenames) & {"service_app", "service_database"}
