"""Password reset: the password plugin's hooks (veto, after-update, after the
reset request, password rules) as the reset runs them."""

from __future__ import annotations

import json
import re
import secrets

import pluggy

from app.errors import Forbidden
from tests.helpers import assert_field_error
from tests.password_reset.conftest import (
    NEW_PASSWORD,
    UNKNOWN_EMAIL,
    assert_success,
    assert_token_invalid,
    customer_now,
    outbox,
    password_hash,
    request_reset,
    run_worker,
    set_password,
    sha256_hex,
    shown,
    token_by_log,
    token_rows,
)

hookimpl = pluggy.HookimplMarker("evershop")


# --- hooks ----------------------------------------------------------------------------------


class FreezePasswords:
    """Vetoes password changes while ``frozen``."""

    message = "Password changes are frozen for this account."

    def __init__(self):
        self.frozen = True
        self.seen: list[dict] = []

    @hookimpl
    def password_before_update(self, customer, context):
        self.seen.append(customer)
        if self.frozen:
            raise Forbidden(self.message)


class RecordPasswordUpdates:
    def __init__(self):
        self.calls: list[tuple[dict, object]] = []

    @hookimpl
    def password_after_update(self, customer, context):
        self.calls.append((customer, context))


class RecordResetRequests:
    def __init__(self):
        self.calls: list[tuple[dict, object]] = []

    @hookimpl
    def password_after_reset_request(self, customer, context):
        self.calls.append((customer, context))


class DigitRequired:
    message = "Must contain a digit."

    @hookimpl
    def password_rules(self):
        return lambda password: None if re.search(r"\d", password) else self.message


def test_password_before_update_veto_is_403_and_keeps_password_and_token(
    app, client, runner, caplog, customer, events, register_plugin
):
    # Given
    plugin = register_plugin(FreezePasswords())
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    before = password_hash(app)

    # When
    response = set_password(client, token, NEW_PASSWORD)

    # Then
    assert response.status_code == 403, response.json
    assert response.json == {"error": {"status": 403, "message": FreezePasswords.message}}
    assert plugin.seen == [shown(customer)]
    assert password_hash(app) == before
    assert token_rows(app) == [(customer["customer_id"], sha256_hex(token))]
    assert events() == []
    plugin.frozen = False
    assert_success(set_password(client, token, NEW_PASSWORD))


def test_password_after_update_gets_the_customer_without_hash(
    app, client, auth, runner, caplog, customer, register_plugin
):
    # Given
    plugin = register_plugin(RecordPasswordUpdates())
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    [(hooked, context)] = plugin.calls
    assert hooked == customer_now(client, auth, customer)
    assert "password" not in hooked
    assert "$2b$" not in json.dumps(hooked)
    assert context.actor_type is None


def test_password_after_update_is_not_called_on_a_refused_token(
    app, client, customer, register_plugin
):
    plugin = register_plugin(RecordPasswordUpdates())

    assert_token_invalid(set_password(client, secrets.token_urlsafe(32), NEW_PASSWORD))

    assert plugin.calls == []


def test_password_after_reset_request_is_called_once_for_a_known_email(
    app, client, runner, caplog, customer, register_plugin
):
    plugin = register_plugin(RecordResetRequests())

    token_by_log(client, runner, caplog)

    [(hooked, context)] = plugin.calls
    assert hooked == shown(customer)
    assert context.actor_type is None


def test_password_after_reset_request_is_not_called_for_an_unknown_email(
    app, client, runner, customer, register_plugin
):
    # Given
    plugin = register_plugin(RecordResetRequests())

    # When
    assert_success(request_reset(client, UNKNOWN_EMAIL))
    run_worker(runner)

    # Then the event was handled, and the hook not called
    assert outbox(app) == []
    assert plugin.calls == []


def test_password_rules_plugin_applies_on_reset(
    app, client, runner, caplog, customer, events, register_plugin
):
    # Given
    register_plugin(DigitRequired())
    token = token_by_log(client, runner, caplog)
    run_worker(runner)
    before = password_hash(app)

    # When
    response = set_password(client, token, "no-digits-in-here")

    # Then
    assert_field_error(response, "password", DigitRequired.message)
    assert password_hash(app) == before
    assert events() == []
    assert_success(set_password(client, token, NEW_PASSWORD))
