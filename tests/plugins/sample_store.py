"""A sample store plugin: copy it to start your own.

A plugin is a module (or any object) with functions named after the hooks in
``app/hookspecs.py``, each marked with the ``evershop`` hookimpl marker. A
function may take any subset of its hook's arguments, by name.

Load it with the ``PLUGINS`` setting (``PLUGINS=tests.plugins.sample_store``),
or from a package of your own through the ``evershop.plugins`` entry point
group::

    [project.entry-points."evershop.plugins"]
    sample-store = "my_package.sample_store"

This one shows each thing a plugin can do:

* rewrite input before it is written (``customer_before_create``/``_update``);
* refuse an operation (``customer_before_delete`` raises ``Forbidden``);
* add a password rule (``password_rules``);
* serve its own routes and commands (``register_blueprints``, ``register_commands``);
* observe what was committed (``customer_after_*``).
"""

from __future__ import annotations

import click
import pluggy
from flask import Blueprint

from app.errors import Forbidden

hookimpl = pluggy.HookimplMarker("evershop")

PROTECTED_DOMAIN = "@protected.example"
PROTECTED_MESSAGE = "Customers of protected.example cannot be deleted."
PASSWORD_MESSAGE = 'Must not contain the word "password".'

# What the after-hooks saw, oldest first: {"hook", "customer", "changes", "actor_type"}.
# A real plugin would send these somewhere (a CRM, an audit log); tests read them.
calls: list[dict] = []


# --- rewrite input -----------------------------------------------------------


def _normalise(data: dict) -> None:
    if data.get("full_name"):
        data["full_name"] = data["full_name"].title()
    if data.get("email"):
        data["email"] = data["email"].lower()


@hookimpl
def customer_before_create(data):
    """Store names in title case and emails in lower case."""
    _normalise(data)


@hookimpl
def customer_before_update(data):
    """The same on update, for the fields being changed."""
    _normalise(data)


# --- refuse ------------------------------------------------------------------


@hookimpl
def customer_before_delete(customer):
    """Protected customers cannot be deleted: the client gets this 403 and
    nothing is deleted."""
    if customer["email"].lower().endswith(PROTECTED_DOMAIN):
        raise Forbidden(PROTECTED_MESSAGE)


# --- add a rule --------------------------------------------------------------


def no_password_in_password(password: str) -> str | None:
    """Refuse passwords that contain "password", in any letter case."""
    return PASSWORD_MESSAGE if "password" in password.casefold() else None


@hookimpl
def password_rules():
    return [no_password_in_password]


# --- routes and commands -----------------------------------------------------


@hookimpl
def register_blueprints():
    """A plain Flask blueprint; an ``app.http.Blueprint`` would also appear in
    the OpenAPI document."""
    blueprint = Blueprint("sample_store", __name__, url_prefix="/api/sample")

    @blueprint.get("/ping")
    def ping():
        return {"data": {"pong": True}}

    return blueprint


@hookimpl
def register_commands(cli):
    @cli.command("sample-ping")
    def sample_ping():
        """Answer "pong": proof that the sample plugin is loaded."""
        click.echo("pong")


# --- observe -----------------------------------------------------------------


def _record(hook: str, customer: dict, changes: list | None, context) -> None:
    calls.append(
        {"hook": hook, "customer": customer, "changes": changes, "actor_type": context.actor_type}
    )


@hookimpl
def customer_after_create(customer, context):
    _record("customer_after_create", customer, None, context)


@hookimpl
def customer_after_update(customer, changes, context):
    _record("customer_after_update", customer, changes, context)


@hookimpl
def customer_after_delete(customer, context):
    _record("customer_after_delete", customer, None, context)
