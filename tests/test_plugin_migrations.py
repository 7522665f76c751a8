"""A plugin's own tables and migrations (docs/plugins.md, "Tables and
migrations"): ``register_migrations`` hands the core a folder of Alembic
revisions, ``flask db upgrade`` applies them with the core's, ``/readyz`` names
the plugin while they are behind, and a read through the plugin before they
ran is not a 500.

The plugin is the package ``tests/plugins/loyalty``, installed as the entry
point ``loyalty``, on a database of each test's own.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from app import create_app, migrations
from app.config import ConfigError
from app.db import db
from app.plugins import contributions
from tests.conftest import Auth, _base_config, core_head
from tests.plugins import loyalty

LOYALTY_HEAD = "loyalty_0001"
CORE_HEAD = core_head()

LOYALTY_DISTRIBUTION = {
    "evershop_loyalty-1.0.dist-info/METADATA": """
        Metadata-Version: 2.1
        Name: evershop-loyalty
        Version: 1.0
    """,
    "evershop_loyalty-1.0.dist-info/entry_points.txt": """
        [evershop.plugins]
        loyalty = tests.plugins.loyalty
    """,
}

ADDRESS = {
    "full_name": "John Smith",
    "address_1": "1 Main St",
    "city": "Springfield",
    "country": "US",
}


@pytest.fixture
def installed() -> list[str]:
    """The entry point plugins this test installed: its apps load them
    (``PLUGINS_ONLY``), and no other installed package's."""
    return []


@pytest.fixture
def build_app(fresh_database_url, installed):
    """Apps on the test's own database; their engines are closed after."""
    made = []

    def build(**overrides):
        config = {**_base_config(fresh_database_url), "PLUGINS_ONLY": list(installed)}
        app = create_app({**config, **overrides})
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def core_migrated(build_app):
    """The database migrated by a service without the plugin: the store
    installs the plugin afterwards."""
    app = build_app()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def loyalty_installed(site_dir, installed):
    """The loyalty plugin installed as a package with an entry point."""
    site_dir(LOYALTY_DISTRIBUTION)
    installed.append("loyalty")


def upgrade(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return result


def versions(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(migrations.current_revisions(conn))


def tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


# --- the hook ---------------------------------------------------------------------------


def test_register_migrations_hands_the_core_the_plugins_folder(build_app, loyalty_installed):
    app = build_app()

    assert contributions(app.extensions["plugins"], "register_migrations") == {
        "loyalty": [loyalty.MIGRATIONS]
    }
    with app.app_context():
        assert migrations.folders()["loyalty"] == loyalty.MIGRATIONS


def test_a_plugin_whose_migrations_folder_does_not_exist_stops_start_up(
    build_app, site_dir, tmp_path
):
    site_dir(
        {
            "misplaced_plugin.py": f"""
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def register_migrations():
                    return {str(tmp_path / "nowhere")!r}
            """
        }
    )

    with pytest.raises(ConfigError) as raised:
        build_app(PLUGINS=["misplaced_plugin"])

    assert str(raised.value) == (
        f"plugin 'misplaced_plugin': register_migrations returned {tmp_path / 'nowhere'},"
        " which is not a folder"
    )


# --- flask db upgrade -----------------------------------------------------------------------


def test_db_upgrade_applies_the_core_and_the_plugins_migrations(build_app, loyalty_installed):
    app = build_app()

    upgrade(app)

    assert versions(app) == {CORE_HEAD, LOYALTY_HEAD}
    assert {"customer", "loyalty_points"} <= tables(app)


def test_db_upgrade_applies_the_migrations_of_a_plugin_installed_later(
    build_app, core_migrated, loyalty_installed
):
    app = build_app()
    assert "loyalty_points" not in tables(app)

    upgrade(app)

    assert versions(app) == {CORE_HEAD, LOYALTY_HEAD}
    assert "loyalty_points" in tables(app)


def test_db_upgrade_refuses_a_plugin_revision_that_revises_a_core_revision(
    build_app, core_migrated, site_dir, tmp_path
):
    folder = tmp_path / "stray_migrations"
    folder.mkdir()
    (folder / "stray_0001.py").write_text(
        f'revision = "stray_0001"\ndown_revision = "{CORE_HEAD}"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    site_dir(
        {
            "stray_plugin.py": f"""
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def register_migrations():
                    return {str(folder)!r}
            """
        }
    )
    app = build_app(PLUGINS=["stray_plugin"])

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: plugin 'stray_plugin': revision stray_0001 revises {CORE_HEAD},"
        " outside the plugin's folder; name the core revision it needs in depends_on\n"
    )
    assert versions(app) == {CORE_HEAD}


def test_db_upgrade_names_the_revision_of_a_plugin_no_longer_loaded(build_app, loyalty_installed):
    upgrade(build_app())
    without = build_app(PLUGINS_BLOCKED=["loyalty"])

    result = without.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: the database is at revision loyalty_0001, which none of the loaded"
        " migrations has: a plugin with migrations was removed or blocked?"
    )
    assert versions(without) == {CORE_HEAD, LOYALTY_HEAD}


# --- /readyz ----------------------------------------------------------------------------------


def test_readyz_is_not_ready_naming_a_plugin_whose_migrations_are_behind(
    build_app, core_migrated, loyalty_installed
):
    client = build_app().test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json == {
        "error": {
            "status": 503,
            "message": f"migrations of plugin loyalty not at head: at none, head is {LOYALTY_HEAD}",
        }
    }


def test_readyz_is_ready_with_every_plugins_head_once_upgraded(build_app, loyalty_installed):
    app = build_app()
    upgrade(app)

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json == {
        "data": {"status": "ready", "revision": CORE_HEAD, "plugins": {"loyalty": LOYALTY_HEAD}}
    }


def test_readyz_leaves_out_the_revision_of_a_plugin_no_longer_loaded(build_app, loyalty_installed):
    upgrade(build_app())

    response = build_app(PLUGINS_BLOCKED=["loyalty"]).test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json == {"data": {"status": "ready", "revision": CORE_HEAD}}


# --- reads through the plugin ---------------------------------------------------------------


def test_a_read_through_a_plugin_whose_table_is_missing_is_not_a_500(
    build_app, core_migrated, loyalty_installed, caplog
):
    # given a customer with an address, and the plugin installed but not migrated
    app = build_app()
    client = app.test_client()
    auth = Auth(app, client)
    customer = auth.create_customer()
    added = client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=auth.admin_headers()
    )
    assert added.status_code == 201, added.json

    # when an admin reads the customer, through the plugin's customer_extend_read
    with caplog.at_level(logging.ERROR, logger="app.plugins"):
        response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())

    # then the read answers without the plugin's field, with what the others add
    assert response.status_code == 200, response.json
    assert "loyalty_points" not in response.json["data"]
    assert [a["uuid"] for a in response.json["data"]["addresses"]] == [added.json["data"]["uuid"]]
    # and the log names the plugin that failed, and no other
    failures = [r.getMessage() for r in caplog.records if r.name == "app.plugins"]
    assert failures == ["plugin loyalty failed in customer_extend_read"]
    assert "loyalty_points" in caplog.text  # the database's reason, in the traceback


def test_a_read_through_a_migrated_plugin_has_its_field(build_app, loyalty_installed):
    app = build_app()
    upgrade(app)
    client = app.test_client()
    auth = Auth(app, client)
    customer = auth.create_customer()
    with app.app_context():
        db.session.execute(
            sa.text("INSERT INTO loyalty_points (customer_id, points) VALUES (:id, 120)"),
            {"id": customer["customer_id"]},
        )
        db.session.commit()
        db.session.remove()

    response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())

    assert response.status_code == 200, response.json
    assert response.json["data"]["loyalty_points"] == 120


# --- flask plugins -----------------------------------------------------------------------------


def test_flask_plugins_shows_a_plugins_migrations_and_where_the_database_is(
    build_app, core_migrated, loyalty_installed
):
    app = build_app()

    result = app.test_cli_runner().invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    assert (
        f"  migrations: {loyalty.MIGRATIONS}  head {LOYALTY_HEAD}, current none"
        "  (behind: run flask db upgrade)\n"
    ) in result.output


def test_an_isolated_hook_failing_on_a_missing_table_inside_a_write_lets_the_write_commit(
    build_app, core_migrated, loyalty_installed
):
    # given the plugin installed but not migrated, and a write that calls its hook
    from app.plugins import hooks
    from app.transactions import transaction

    app = build_app()
    with app.app_context():
        with transaction():
            db.session.execute(sa.text("INSERT INTO customer_group (group_name) VALUES ('VIP')"))
            customer = {"customer_id": 1, "uuid": "00000000-0000-0000-0000-000000000001"}
            hooks().customer_extend_read(customers=[customer])
        db.session.remove()

        # then the hook's failure was rolled back to its savepoint, and the write committed
        with db.engine.connect() as conn:
            names = conn.scalars(sa.text("SELECT group_name FROM customer_group")).all()
    assert sorted(names) == ["Default", "VIP"]
    assert "loyalty_points" not in customer
