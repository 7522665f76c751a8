"""The plugin manager (docs/plugins.md): hooks run through pluggy's own
calling, so wrappers, ordering and tracing hold; failures are handled in one
place and name the plugin; plugins own their hookspecs and declare what they
require; start-up refuses blocks and selections that make no sense."""

from __future__ import annotations

import logging
import types

import pluggy
import pytest

from app.config import ConfigError

hookimpl = pluggy.HookimplMarker("evershop")
hookspec = pluggy.HookspecMarker("evershop")

SAMPLE = "tests.plugins.sample_store"


def sign_up(client, email="john.smith@example.com", full_name="John Smith"):
    return client.post(
        "/api/customers",
        json={"email": email, "password": "customer-pass-1", "full_name": full_name},
    )


# --- calling through pluggy ------------------------------------------------------------


def test_customer_before_create_wrapper_implementation_runs_around_the_others(
    client, register_plugin
):
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def customer_before_create(self, data):
            seen.append(("before", data["full_name"]))
            result = yield
            seen.append(("after", data["full_name"]))
            return result

    class Rewriter:
        @hookimpl
        def customer_before_create(self, data):
            data["full_name"] = data["full_name"].upper()

    register_plugin(Rewriter(), name="rewriter")
    register_plugin(Wrapper(), name="wrapper")

    response = sign_up(client)

    assert response.status_code == 201, response.json
    assert response.json["data"]["full_name"] == "JOHN SMITH"
    assert seen == [("before", "John Smith"), ("after", "JOHN SMITH")]


def test_customer_before_update_tryfirst_implementation_runs_first(client, auth, register_plugin):
    order = []

    class Late:
        @hookimpl(trylast=True)
        def customer_before_update(self, data):
            order.append("late")

    class Early:
        @hookimpl(tryfirst=True)
        def customer_before_update(self, data):
            order.append("early")

    register_plugin(Early(), name="early")
    register_plugin(Late(), name="late")
    customer = auth.create_customer()

    response = auth.client.patch(
        f"/api/customers/{customer['uuid']}", json={"full_name": "J"}, headers=auth.admin_headers()
    )

    assert response.status_code == 200, response.json
    assert order == ["early", "late"]


def test_customer_extend_read_failure_is_logged_with_the_plugin_name_and_isolated(
    client, auth, register_plugin, caplog
):
    class Broken:
        @hookimpl
        def customer_extend_read(self, customers):
            raise RuntimeError("table loyalty_points does not exist")

    register_plugin(Broken(), name="loyalty")
    customer = auth.create_customer()

    with caplog.at_level(logging.ERROR, logger="app.plugins"):
        response = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())

    assert response.status_code == 200, response.json
    assert response.json["data"]["addresses"] == []
    assert "plugin loyalty failed in customer_extend_read" in caplog.text


def test_plugins_trace_logs_every_hook_call(make_app, caplog):
    app = make_app(PLUGINS_TRACE=True)

    with caplog.at_level(logging.INFO, logger="app.plugins"):
        response = sign_up(app.test_client())

    assert response.status_code == 201, response.json
    traced = [r.getMessage() for r in caplog.records if r.name == "app.plugins"]
    assert any("customer_before_create" in line for line in traced)
    assert any("customer_after_create" in line for line in traced)


# --- plugins own their hookspecs ----------------------------------------------------------


class LoyaltySpecs:
    @hookspec
    def loyalty_points_for_sign_up(self, customer):
        """How many points a new customer gets.

        :param customer: the customer.
        """


class LoyaltyOwner:
    """A plugin that owns a hook and calls it when a customer signs up."""

    def __init__(self):
        self.awarded = []

    @hookimpl
    def register_hookspecs(self):
        return LoyaltySpecs

    @hookimpl
    def customer_after_create(self, customer):
        from flask import current_app

        answers = current_app.extensions["plugins"].hook.loyalty_points_for_sign_up(
            customer=customer
        )
        self.awarded.append(sum(answers))


class Promotion:
    @hookimpl
    def loyalty_points_for_sign_up(self, customer):
        return 100


def test_register_hookspecs_lets_a_plugin_own_a_hook_that_others_implement(client, register_plugin):
    owner = register_plugin(LoyaltyOwner(), name="loyalty")
    register_plugin(Promotion(), name="promotion")

    response = sign_up(client)

    assert response.status_code == 201, response.json
    assert owner.awarded == [100]


def test_implementation_of_a_hook_no_loaded_plugin_owns_fails_start_up(make_app, site_dir):
    site_dir(
        {
            "promotion_plugin.py": """
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def loyalty_points_for_sign_up(customer):
                    return 100
            """
        }
    )

    with pytest.raises(pluggy.PluginValidationError, match="loyalty_points_for_sign_up"):
        make_app(PLUGINS=["promotion_plugin"])


# --- blocking, requirements, selection --------------------------------------------------------


def test_blocked_name_that_matches_no_plugin_fails_start_up(make_app):
    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS_BLOCKED=["adress"])

    assert str(raised.value).startswith("PLUGINS_BLOCKED names adress, which matches no plugin;")


def test_blocking_a_plugin_others_require_fails_start_up_naming_both(make_app):
    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS_BLOCKED=["customer"])

    assert str(raised.value) == (
        "plugin 'address' requires plugin 'customer', which PLUGINS_BLOCKED blocks:"
        " unblock 'customer' or block 'address' too"
    )


def test_blocking_a_plugin_and_those_requiring_it_starts(make_app):
    app = make_app(PLUGINS_BLOCKED=["password"])

    assert not app.extensions["plugins"].has_plugin("password")
    response = app.test_client().post(
        "/api/customers/reset-password", json={"email": "a@example.com"}
    )
    assert response.status_code == 404


def test_plugin_requiring_a_plugin_that_is_not_installed_fails_start_up(make_app, site_dir):
    site_dir(
        {
            "needy_plugin.py": """
                REQUIRES = ("loyalty",)
            """
        }
    )

    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS=["needy_plugin"])

    assert str(raised.value) == (
        "plugin 'needy_plugin' requires plugin 'loyalty', which is not installed"
    )


ENTRY_POINTS = {
    "evershop_one.py": "",
    "evershop_two.py": "",
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


def test_plugins_only_loads_exactly_the_named_entry_point_plugins(make_app, site_dir):
    site_dir(ENTRY_POINTS)

    app = make_app(PLUGINS_ONLY=["two"])

    pm = app.extensions["plugins"]
    assert not pm.has_plugin("one")
    assert pm.has_plugin("two")
    assert pm.has_plugin("customer")


def test_plugins_only_empty_loads_no_entry_point_plugin(make_app, site_dir):
    site_dir(ENTRY_POINTS)

    app = make_app(PLUGINS_ONLY=[])

    pm = app.extensions["plugins"]
    assert not pm.has_plugin("one")
    assert not pm.has_plugin("two")


def test_plugins_only_leaves_the_names_of_other_installed_plugins_free(make_app, site_dir):
    site_dir(ENTRY_POINTS)
    app = make_app(PLUGINS_ONLY=["two"])
    pm = app.extensions["plugins"]

    registered = pm.register(types.SimpleNamespace(), name="one")

    assert registered == "one"
    assert not pm.is_blocked("one")
    pm.unregister(name="one")


def test_plugins_only_unset_loads_every_installed_entry_point_plugin(make_app, site_dir):
    site_dir(ENTRY_POINTS)

    app = make_app(PLUGINS_ONLY=None)

    pm = app.extensions["plugins"]
    assert pm.has_plugin("one")
    assert pm.has_plugin("two")


def test_plugins_only_naming_an_uninstalled_plugin_fails_start_up(make_app, site_dir):
    site_dir(ENTRY_POINTS)

    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS_ONLY=["three"])

    assert str(raised.value) == ("PLUGINS_ONLY names three, which no installed package provides")


def test_flask_plugins_shows_an_entry_point_plugin_with_its_distribution(make_app, site_dir):
    site_dir(ENTRY_POINTS)
    app = make_app(PLUGINS_ONLY=["one", "two"], PLUGINS_BLOCKED=["one"])

    result = app.test_cli_runner().invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    assert "two (entry point, evershop-pair 1.0, evershop_two)" in result.output.splitlines()
    assert "one (blocked)" in result.output.splitlines()


# --- the password plugin's reset request ------------------------------------------------------


def test_password_before_reset_request_rewrites_the_email_before_it_is_recorded(
    client, events, register_plugin
):
    class Normaliser:
        @hookimpl
        def password_before_reset_request(self, data):
            local, domain = data["email"].split("@")
            data["email"] = f"{local.split('+')[0]}@{domain}"

    register_plugin(Normaliser(), name="normaliser")

    response = client.post("/api/customers/reset-password", json={"email": "john+shop@example.com"})

    assert response.status_code == 200, response.json
    assert events() == [("reset_password_submitted", {"email": "john@example.com"})]


# --- the customer plugin's login ----------------------------------------------------------


class PlusNormaliser:
    """Rewrites ``name+tag@domain`` to ``name@domain`` on sign-up and login."""

    @staticmethod
    def _strip(email: str) -> str:
        local, domain = email.split("@")
        return f"{local.split('+')[0]}@{domain}"

    @hookimpl
    def customer_before_create(self, data):
        data["email"] = self._strip(data["email"])

    @hookimpl
    def customer_before_login(self, data):
        data["email"] = self._strip(data["email"])


def test_customer_before_login_lets_the_rewritten_address_log_in(client, register_plugin):
    register_plugin(PlusNormaliser(), name="normaliser")
    created = sign_up(client, email="john+shop@example.com")
    assert created.json["data"]["email"] == "john@example.com"

    response = client.post(
        "/api/customer/tokens",
        json={"email": "john+shop@example.com", "password": "customer-pass-1"},
    )

    assert response.status_code == 200, response.json


def test_customer_before_login_veto_is_the_clients_answer(client, auth, register_plugin):
    from app.errors import Forbidden

    class Closed:
        @hookimpl
        def customer_before_login(self, data):
            raise Forbidden("Logins are paused for maintenance.")

    auth.create_customer()
    register_plugin(Closed(), name="closed")

    response = client.post(
        "/api/customer/tokens",
        json={"email": "john.smith@example.com", "password": "customer-pass-1"},
    )

    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "Logins are paused for maintenance."}
    }


# --- settings ---------------------------------------------------------------------------------


SETTINGS_PLUGIN = {
    "loyalty_settings.py": """
        import pluggy

        from app.settings import Setting

        hookimpl = pluggy.HookimplMarker("evershop")

        @hookimpl
        def register_settings():
            return [
                Setting("LOYALTY_POINTS_ON_SIGNUP", int, default=10, minimum=0,
                        help="points a new customer gets"),
                Setting("LOYALTY_API_KEY", str, default="", secret=True),
            ]
    """
}


def test_register_settings_puts_the_parsed_value_in_the_config(make_app, site_dir, monkeypatch):
    site_dir(SETTINGS_PLUGIN)
    monkeypatch.setenv("LOYALTY_POINTS_ON_SIGNUP", " 50 ")

    app = make_app(PLUGINS=["loyalty_settings"])

    assert app.config["LOYALTY_POINTS_ON_SIGNUP"] == 50


def test_register_settings_default_applies_when_the_variable_is_unset(make_app, site_dir):
    site_dir(SETTINGS_PLUGIN)

    app = make_app(PLUGINS=["loyalty_settings"])

    assert app.config["LOYALTY_POINTS_ON_SIGNUP"] == 10


@pytest.mark.parametrize(
    ("raw", "problem"), [("many", "must be a whole number"), ("-3", "must be at least 0")]
)
def test_register_settings_bad_value_stops_start_up_naming_the_plugin(
    make_app, site_dir, monkeypatch, raw, problem
):
    site_dir(SETTINGS_PLUGIN)
    monkeypatch.setenv("LOYALTY_POINTS_ON_SIGNUP", raw)

    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS=["loyalty_settings"])

    assert str(raised.value) == (
        f"plugin loyalty_settings: LOYALTY_POINTS_ON_SIGNUP {problem}, got {raw!r}"
    )


def test_flask_plugins_shows_settings_with_secrets_masked(make_app, site_dir, monkeypatch):
    site_dir(SETTINGS_PLUGIN)
    monkeypatch.setenv("LOYALTY_API_KEY", "k-0123456789")
    app = make_app(PLUGINS=["loyalty_settings"])

    result = app.test_cli_runner().invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  setting: LOYALTY_POINTS_ON_SIGNUP=10  points a new customer gets" in lines
    assert "  setting: LOYALTY_API_KEY=***" in lines
    assert "k-0123456789" not in result.output


# --- services ----------------------------------------------------------------------------


def test_register_services_offers_the_customer_service_to_other_plugins(app, auth):
    from app.plugin_api import find_customer, service

    customer = auth.create_customer()

    with app.app_context():
        found = find_customer(customer["uuid"])
        by_email = service("customers").find(email="JOHN.SMITH@example.com")

    assert found == {k: v for k, v in customer.items() if k != "links"}
    assert by_email == found


def test_register_services_offering_a_taken_name_stops_start_up(make_app, site_dir):
    site_dir(
        {
            "rival_service.py": """
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def register_services():
                    return {"customers": object()}
            """
        }
    )

    with pytest.raises(ConfigError) as raised:
        make_app(PLUGINS=["rival_service"])

    assert str(raised.value) == (
        "plugins rival_service and customer both offer the service 'customers'"
    )


def test_hooks_of_the_public_api_calls_a_plugins_own_hookspec(app, register_plugin):
    from app.plugin_api import hookimpl as public_hookimpl
    from app.plugin_api import hooks, hookspec

    class LoyaltySpecs:
        @hookspec
        def loyalty_before_award(self, points: int) -> int:
            """:param points: the points about to be awarded."""

    class Loyalty:
        @public_hookimpl
        def register_hookspecs(self):
            return LoyaltySpecs

    class Doubler:
        @public_hookimpl
        def loyalty_before_award(self, points):
            return points * 2

    register_plugin(Loyalty(), name="loyalty")
    register_plugin(Doubler(), name="doubler")

    with app.app_context():
        assert hooks().loyalty_before_award(points=5) == [10]
