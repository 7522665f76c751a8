"""The plugin system, through the sample store plugin and small plugins
registered for one test.

Every test here runs on an app with ``tests.plugins.sample_store`` loaded
through the ``PLUGINS`` setting (the ``app`` fixture is overridden below).
"""

from __future__ import annotations

import logging

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db
from app.errors import BadRequest
from tests.plugins import sample_store

SAMPLE = "tests.plugins.sample_store"
hookimpl = pluggy.HookimplMarker("evershop")

# The sample plugin refuses passwords containing "password", the conftest
# admin's included; these pass every rule.
ADMIN_PASSWORD = "admin-secret-1"
CUSTOMER_PASSWORD = "customer-pass-1"

NO_PASSWORD_RULE = sample_store.PASSWORD_MESSAGE


@pytest.fixture
def app(make_app):
    return make_app(PLUGINS=[SAMPLE])


@pytest.fixture(autouse=True)
def sample_calls():
    """What the sample plugin's after-hooks saw during this test."""
    sample_store.calls.clear()
    yield sample_store.calls
    sample_store.calls.clear()


@pytest.fixture
def admin_headers(auth):
    auth.create_admin(password=ADMIN_PASSWORD)
    token = auth.admin_tokens(password=ADMIN_PASSWORD)["accessToken"]
    return {"Authorization": f"Bearer {token}"}


def create_customer(client, headers, **fields) -> dict:
    body = {
        "email": "john.smith@example.com",
        "password": CUSTOMER_PASSWORD,
        "full_name": "John Smith",
        **fields,
    }
    response = client.post("/api/customers", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def customer_count(client, headers) -> int:
    response = client.get("/api/customers", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]["total"]


def customer_without_links(customer: dict) -> dict:
    """The customer as hooks see it: the answer without its links, and without
    the ``insertId`` a create answer adds for EverShop's clients."""
    return {key: value for key, value in customer.items() if key not in ("links", "insertId")}


# --- the sample plugin: rewrite input ------------------------------------------


def test_customer_before_create_rewrites_name_and_email(client, admin_headers, events):
    # given the sample plugin, which title-cases names and lower-cases emails
    # when an admin creates a customer written carelessly
    response = client.post(
        "/api/customers",
        json={
            "email": "Jane.DOE@Example.COM",
            "password": CUSTOMER_PASSWORD,
            "full_name": "jane DOE",
        },
        headers=admin_headers,
    )

    # then the rewritten values are what is stored, answered and emitted
    assert response.status_code == 201, response.json
    customer = response.json["data"]
    assert (customer["email"], customer["full_name"]) == ("jane.doe@example.com", "Jane Doe")
    stored = client.get(f"/api/customers/{customer['uuid']}", headers=admin_headers).json["data"]
    assert (stored["email"], stored["full_name"]) == ("jane.doe@example.com", "Jane Doe")
    assert [(name, payload["email"], payload["full_name"]) for name, payload in events()] == [
        ("customer_registered", "jane.doe@example.com", "Jane Doe")
    ]


def test_customer_before_update_rewrites_changed_fields(client, admin_headers):
    # given a customer
    customer = create_customer(client, admin_headers)

    # when an admin renames it carelessly
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "johnny SMITH", "email": "Johnny@Example.com"},
        headers=admin_headers,
    )

    # then the sample plugin's rewriting is what is stored
    assert response.status_code == 200, response.json
    assert (response.json["data"]["full_name"], response.json["data"]["email"]) == (
        "Johnny Smith",
        "johnny@example.com",
    )
    stored = client.get(f"/api/customers/{customer['uuid']}", headers=admin_headers).json["data"]
    assert (stored["full_name"], stored["email"]) == ("Johnny Smith", "johnny@example.com")


# --- the sample plugin: veto a delete --------------------------------------------


def test_customer_before_delete_vetoes_deleting_a_protected_customer(
    client, admin_headers, events, sample_calls
):
    # given a customer of the protected domain
    customer = create_customer(client, admin_headers, email="vip@protected.example")
    sample_calls.clear()

    # when an admin deletes it
    response = client.delete(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    # then the plugin's refusal reaches the client, and nothing was deleted
    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "Customers of protected.example cannot be deleted."}
    }
    still_there = client.get(f"/api/customers/{customer['uuid']}", headers=admin_headers)
    assert still_there.status_code == 200
    assert still_there.json["data"]["email"] == "vip@protected.example"
    assert [name for name, _ in events()] == ["customer_registered"]
    assert sample_calls == []  # no after-hook for what did not happen


def test_customer_before_delete_lets_other_customers_be_deleted(client, admin_headers, events):
    # given an ordinary customer
    customer = create_customer(client, admin_headers)

    # when an admin deletes it
    response = client.delete(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    # then the sample plugin does not stand in the way
    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]
    assert (
        client.get(f"/api/customers/{customer['uuid']}", headers=admin_headers).status_code == 404
    )
    assert [name for name, _ in events()] == ["customer_registered", "customer_deleted"]


# --- the sample plugin: a password rule -------------------------------------------


def test_password_rule_refuses_a_new_customer(client, admin_headers, events, sample_calls):
    # when an admin creates a customer whose password contains "password", in any case
    response = client.post(
        "/api/customers",
        json={"email": "john.smith@example.com", "password": "MyPassWord1", "full_name": "John"},
        headers=admin_headers,
    )

    # then the plugin's rule refuses it for the field password, and nothing is written
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid password: {NO_PASSWORD_RULE}",
            "errors": [{"field": "password", "message": NO_PASSWORD_RULE}],
        }
    }
    assert customer_count(client, admin_headers) == 0
    assert events() == []
    assert sample_calls == []


def test_password_rule_refuses_a_changed_password(client, admin_headers, events, sample_calls):
    # given a customer
    customer = create_customer(client, admin_headers)
    sample_calls.clear()

    # when an admin sets a password containing "password"
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"password": "new-PASSWORD-2"},
        headers=admin_headers,
    )

    # then it is refused, and the old password still logs in
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid password: {NO_PASSWORD_RULE}",
            "errors": [{"field": "password", "message": NO_PASSWORD_RULE}],
        }
    }
    old = client.post(
        "/api/customer/tokens",
        json={"email": "john.smith@example.com", "password": CUSTOMER_PASSWORD},
    )
    assert old.status_code == 200, old.json
    assert [name for name, _ in events()] == ["customer_registered"]
    assert sample_calls == []


# --- the sample plugin: routes and commands ----------------------------------------


def test_register_blueprints_adds_the_plugins_route(client):
    response = client.get("/api/sample/ping")

    assert response.status_code == 200
    assert response.json == {"data": {"pong": True}}


def test_register_commands_adds_the_plugins_command(runner):
    result = runner.invoke(args=["sample-ping"])

    assert result.exit_code == 0, result.output
    assert result.output == "pong\n"


# --- the sample plugin: after-hooks --------------------------------------------------


def test_customer_after_create_sees_the_new_customer_and_the_admin(
    client, admin_headers, sample_calls
):
    # when an admin creates a customer
    customer = create_customer(client, admin_headers)

    # then the after-hook got the customer as answered, and who acted
    assert sample_calls == [
        {
            "hook": "customer_after_create",
            "customer": customer_without_links(customer),
            "changes": None,
            "actor_type": "admin",
        }
    ]


def test_customer_after_create_sees_a_sign_up_as_anonymous(client, sample_calls):
    # when someone signs up without a token
    response = client.post(
        "/api/customers",
        json={"email": "new@example.com", "password": CUSTOMER_PASSWORD, "full_name": "New One"},
    )

    # then the after-hook's context has no actor
    assert response.status_code == 201, response.json
    assert sample_calls == [
        {
            "hook": "customer_after_create",
            "customer": customer_without_links(response.json["data"]),
            "changes": None,
            "actor_type": None,
        }
    ]


def test_customer_after_update_sees_the_changes(client, admin_headers, sample_calls):
    # given a customer
    customer = create_customer(client, admin_headers)
    sample_calls.clear()

    # when an admin changes its name and password (and repeats its status)
    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"full_name": "John Q Smith", "password": "another-secret-2", "status": 1},
        headers=admin_headers,
    )

    # then the after-hook got the customer as it is now and what changed
    assert response.status_code == 200, response.json
    assert sample_calls == [
        {
            "hook": "customer_after_update",
            "customer": customer_without_links(response.json["data"]),
            "changes": ["full_name", "password"],
            "actor_type": "admin",
        }
    ]


def test_customer_after_update_sees_a_customer_editing_itself(client, admin_headers, sample_calls):
    # given a customer, logged in
    create_customer(client, admin_headers)
    tokens = client.post(
        "/api/customer/tokens",
        json={"email": "john.smith@example.com", "password": CUSTOMER_PASSWORD},
    ).json["data"]
    sample_calls.clear()

    # when it renames itself
    response = client.patch(
        "/api/customers/me",
        json={"full_name": "john the customer"},
        headers={"Authorization": f"Bearer {tokens['accessToken']}"},
    )

    # then the after-hook's context says a customer acted
    assert response.status_code == 200, response.json
    assert [(c["hook"], c["changes"], c["actor_type"]) for c in sample_calls] == [
        ("customer_after_update", ["full_name"], "customer")
    ]
    assert sample_calls[0]["customer"]["full_name"] == "John The Customer"


def test_customer_after_update_is_not_called_for_an_empty_update(
    client, admin_headers, sample_calls
):
    customer = create_customer(client, admin_headers)
    sample_calls.clear()

    response = client.patch(f"/api/customers/{customer['uuid']}", json={}, headers=admin_headers)

    assert response.status_code == 200, response.json
    assert sample_calls == []


def test_customer_after_delete_sees_the_deleted_customer(client, admin_headers, sample_calls):
    # given a customer
    customer = create_customer(client, admin_headers)
    sample_calls.clear()

    # when an admin deletes it
    response = client.delete(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    # then the after-hook got the customer as it was
    assert response.status_code == 200, response.json
    assert sample_calls == [
        {
            "hook": "customer_after_delete",
            "customer": response.json["data"],
            "changes": None,
            "actor_type": "admin",
        }
    ]


def test_after_hooks_never_see_a_password_hash(client, admin_headers, sample_calls):
    # given a customer created, given a new password, then deleted
    customer = create_customer(client, admin_headers)
    client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"password": "another-secret-2"},
        headers=admin_headers,
    )
    client.delete(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    # then no after-hook was handed a password or its hash
    assert [call["hook"] for call in sample_calls] == [
        "customer_after_create",
        "customer_after_update",
        "customer_after_delete",
    ]
    for call in sample_calls:
        assert "password" not in call["customer"]
        assert not any(str(value).startswith("$2") for value in call["customer"].values())


def test_after_hook_runs_after_commit(client, admin_headers, register_plugin):
    # given a plugin that looks for the new customer through another connection
    class CommitWitness:
        def __init__(self):
            self.seen = []

        @hookimpl
        def customer_after_create(self, customer):
            with db.engine.connect() as connection:
                self.seen.append(
                    connection.execute(
                        sa.text("SELECT email FROM customer WHERE customer_id = :id"),
                        {"id": customer["customer_id"]},
                    ).scalar()
                )

    witness = register_plugin(CommitWitness(), name="commit-witness")

    # when a customer is created
    create_customer(client, admin_headers)

    # then the row was already committed when the after-hook ran
    assert witness.seen == ["john.smith@example.com"]


def test_after_hook_is_not_called_when_a_before_hook_vetoes(
    client, admin_headers, events, register_plugin, sample_calls
):
    # given a plugin that refuses every sign-up from example.org
    class Gatekeeper:
        @hookimpl
        def customer_before_create(self, data):
            if data["email"].endswith("@example.org"):
                message = "Addresses at example.org cannot register."
                raise BadRequest(message, [{"field": "email", "message": message}])

    register_plugin(Gatekeeper(), name="gatekeeper")

    # when an admin creates such a customer
    response = client.post(
        "/api/customers",
        json={"email": "ann@example.org", "password": CUSTOMER_PASSWORD, "full_name": "Ann"},
        headers=admin_headers,
    )

    # then it is refused, nothing is written, and no after-hook ran
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Addresses at example.org cannot register.",
            "errors": [{"field": "email", "message": "Addresses at example.org cannot register."}],
        }
    }
    assert customer_count(client, admin_headers) == 0
    assert events() == []
    assert sample_calls == []


# --- failing plugins -------------------------------------------------------------------


def test_failing_after_hook_is_logged_and_the_request_succeeds(
    client, admin_headers, register_plugin, sample_calls, caplog
):
    # given a plugin whose after-hook breaks
    class Flaky:
        @hookimpl
        def customer_after_create(self, customer):
            raise RuntimeError("the CRM is down")

    register_plugin(Flaky(), name="flaky")

    # when a customer is created
    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/api/customers",
            json={
                "email": "john.smith@example.com",
                "password": CUSTOMER_PASSWORD,
                "full_name": "J",
            },
            headers=admin_headers,
        )

    # then the request succeeds, the failure is logged with the plugin's name,
    # and the other plugins' after-hooks still ran
    assert response.status_code == 201, response.json
    assert customer_count(client, admin_headers) == 1
    assert ("app.plugins", logging.ERROR, "plugin flaky failed in customer_after_create") in (
        caplog.record_tuples
    )
    assert [call["hook"] for call in sample_calls] == ["customer_after_create"]


def test_failing_after_update_hook_is_logged_and_the_request_succeeds(
    client, admin_headers, register_plugin, caplog
):
    # given a customer and a plugin whose after-update hook breaks
    customer = create_customer(client, admin_headers)

    class Flaky:
        @hookimpl
        def customer_after_update(self, changes):
            raise RuntimeError("the CRM is down")

    register_plugin(Flaky(), name="flaky")

    # when the customer is updated
    with caplog.at_level(logging.ERROR):
        response = client.patch(
            f"/api/customers/{customer['uuid']}", json={"full_name": "Jo"}, headers=admin_headers
        )

    # then the update stands and the failure is logged with the plugin's name
    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "Jo"
    assert ("app.plugins", logging.ERROR, "plugin flaky failed in customer_after_update") in (
        caplog.record_tuples
    )


def test_unexpected_error_in_before_hook_is_a_500_and_writes_nothing(
    client, admin_headers, events, register_plugin, sample_calls, caplog
):
    # given a plugin whose before-hook has a bug
    class Broken:
        @hookimpl
        def customer_before_create(self, data):
            raise RuntimeError("bug in plugin")

    register_plugin(Broken(), name="broken")

    # when a customer is created
    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/api/customers",
            json={
                "email": "john.smith@example.com",
                "password": CUSTOMER_PASSWORD,
                "full_name": "J",
            },
            headers={**admin_headers, "X-Request-ID": "req-plugin-500"},
        )

    # then the client gets the generic 500, nothing is written, and the log names the plugin
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "status": 500,
            "message": (
                "An unexpected error occurred. Quote request id req-plugin-500 when reporting it."
            ),
        }
    }
    assert "bug in plugin" not in response.get_data(as_text=True)
    assert customer_count(client, admin_headers) == 0
    assert events() == []
    assert sample_calls == []
    assert ("app.plugins", logging.ERROR, "plugin broken failed in customer_before_create") in (
        caplog.record_tuples
    )


# --- registering and loading plugins ------------------------------------------------


def test_register_plugin_adds_a_plugin_object_for_one_test(client, admin_headers, register_plugin):
    # given a plugin object registered for this test only
    class NoShortNames:
        @hookimpl
        def customer_before_create(self, data):
            if len(data["full_name"]) < 3:
                raise BadRequest("Names must have at least 3 characters.")

    register_plugin(NoShortNames(), name="no-short-names")

    # when a customer with a short name is created
    response = client.post(
        "/api/customers",
        json={"email": "al@example.com", "password": CUSTOMER_PASSWORD, "full_name": "Al"},
        headers=admin_headers,
    )

    # then the plugin refuses it
    assert response.status_code == 400
    assert response.json == {
        "error": {"status": 400, "message": "Names must have at least 3 characters."}
    }
    assert customer_count(client, admin_headers) == 0


def test_customer_extend_read_adds_fields_to_a_read_customer(
    client, admin_headers, register_plugin
):
    # given a plugin that adds a loyalty tier to customers being read
    class Loyalty:
        def __init__(self):
            self.batches = []

        @hookimpl
        def customer_extend_read(self, customers):
            self.batches.append([customer["uuid"] for customer in customers])
            for customer in customers:
                customer["loyalty_tier"] = "gold"

    customer = create_customer(client, admin_headers)
    loyalty = register_plugin(Loyalty(), name="loyalty")

    # when an admin reads the customer
    response = client.get(f"/api/customers/{customer['uuid']}", headers=admin_headers)

    # then the plugin's field is in the answer, next to the core fields
    assert response.status_code == 200, response.json
    assert response.json["data"]["loyalty_tier"] == "gold"
    assert response.json["data"]["email"] == "john.smith@example.com"
    assert loyalty.batches == [[customer["uuid"]]]


def test_auth_account_for_token_answer_of_none_leaves_the_answer_to_others(
    client, admin_headers, register_plugin
):
    # given a plugin that watches tokens and answers for none of them
    class TokenWatcher:
        def __init__(self):
            self.seen = []

        @hookimpl
        def auth_account_for_token(self, token_type, claims):
            self.seen.append((token_type, claims.get("customer", {}).get("email")))
            return None

    create_customer(client, admin_headers)
    tokens = client.post(
        "/api/customer/tokens",
        json={"email": "john.smith@example.com", "password": CUSTOMER_PASSWORD},
    ).json["data"]
    watcher = register_plugin(TokenWatcher(), name="token-watcher")

    # when the customer reads itself
    response = client.get(
        "/api/customers/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"}
    )

    # then the plugin was asked, and the customer plugin's answer stood
    assert response.status_code == 200, response.json
    assert response.json["data"]["email"] == "john.smith@example.com"
    assert watcher.seen == [("customer", "john.smith@example.com")]


def test_unknown_plugin_module_fails_start_up(make_app):
    with pytest.raises(ModuleNotFoundError, match="tests.plugins.does_not_exist"):
        make_app(PLUGINS=["tests.plugins.does_not_exist"])


def test_misspelt_hook_fails_start_up(make_app, site_dir):
    # given a plugin implementing a hook that does not exist
    site_dir(
        {
            "misspelt_plugin.py": """
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def customer_befor_create(data):
                    data["full_name"] = "never called"
            """
        }
    )

    # when the app is built with it, then start-up fails naming the hook
    with pytest.raises(pluggy.PluginValidationError, match="customer_befor_create"):
        make_app(PLUGINS=["misspelt_plugin"])


def test_flask_plugins_lists_the_plugins_and_their_hooks(runner):
    result = runner.invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(" ")[0] for line in lines if not line.startswith(" ")] == [
        "auth",
        "customer",
        "address",
        "password",
        "webhook",
        "verification",
        "privacy",
        "timeline",
        "group",
        "session",
        SAMPLE,
    ]
    assert f"{SAMPLE} (PLUGINS, {SAMPLE})" in lines
    assert (
        "  hooks: "
        + ", ".join(
            [
                "customer_after_create",
                "customer_after_delete",
                "customer_after_update",
                "customer_before_create",
                "customer_before_delete",
                "customer_before_update",
                "password_rules",
                "register_blueprints",
                "register_commands",
            ]
        )
        in lines
    )
    assert lines[lines.index("address (built-in, plugins.address.plugin)") + 1] == (
        "  requires: customer"
    )


def test_blocked_plugin_is_not_loaded(make_app):
    # given the sample plugin both named and blocked
    blocked = make_app(PLUGINS_BLOCKED=[SAMPLE], PLUGINS=[SAMPLE])

    # then it is not loaded: its route does not exist
    assert not blocked.extensions["plugins"].has_plugin(SAMPLE)
    response = blocked.test_client().get("/api/sample/ping")
    assert response.status_code == 404
    assert response.json == {
        "error": {"status": 404, "message": "No resource lives at this address."}
    }


ENTRY_POINT_PACKAGE = {
    "evershop_hello.py": """
        import pluggy
        from flask import Blueprint

        hookimpl = pluggy.HookimplMarker("evershop")

        @hookimpl
        def register_blueprints():
            blueprint = Blueprint("hello", __name__, url_prefix="/api")

            @blueprint.get("/hello")
            def hello():
                return {"data": {"hello": "world"}}

            return blueprint
    """,
    "evershop_hello-1.0.dist-info/METADATA": """
        Metadata-Version: 2.1
        Name: evershop-hello
        Version: 1.0
    """,
    "evershop_hello-1.0.dist-info/entry_points.txt": """
        [evershop.plugins]
        hello = evershop_hello
    """,
}


def test_entry_point_plugin_is_loaded(make_app, site_dir):
    # given an installed package exposing a plugin in the evershop.plugins group
    site_dir(ENTRY_POINT_PACKAGE)

    # when the app is built with it (the suite's apps load no installed plugin unnamed)
    app = make_app(PLUGINS_ONLY=["hello"])

    # then the plugin is loaded under its entry point's name and serves its route
    pm = app.extensions["plugins"]
    assert pm.has_plugin("hello")
    assert [dist.project_name for _, dist in pm.list_plugin_distinfo()] == ["evershop-hello"]
    response = app.test_client().get("/api/hello")
    assert response.status_code == 200
    assert response.json == {"data": {"hello": "world"}}


def test_blocked_entry_point_plugin_is_not_loaded(make_app, site_dir):
    # given the same installed package, blocked by its entry point's name
    site_dir(ENTRY_POINT_PACKAGE)

    # when the app is built
    app = make_app(PLUGINS_ONLY=["hello"], PLUGINS_BLOCKED=["hello"])

    # then it is not loaded
    assert not app.extensions["plugins"].has_plugin("hello")
    assert app.test_client().get("/api/hello").status_code == 404


def test_in_transaction_is_true_only_inside_a_transaction_block(app):
    from app.plugin_api import in_transaction, transaction

    with app.app_context():
        before = in_transaction()
        with transaction():
            inside = in_transaction()
            with transaction():
                nested = in_transaction()
            after_nested = in_transaction()
        after = in_transaction()

    assert (before, inside, nested, after_nested, after) == (False, True, True, True, False)


def test_in_transaction_is_false_after_a_block_that_failed(app):
    from app.plugin_api import in_transaction, transaction

    with app.app_context():
        with pytest.raises(RuntimeError), transaction():
            raise RuntimeError("the write fails")
        after = in_transaction()

    assert after is False
