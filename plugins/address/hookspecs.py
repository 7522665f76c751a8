"""The address plugin's hooks: rules and lifecycle of customer addresses."""

from __future__ import annotations

import pluggy

from app.entity_fields import EntityField
from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def register_address_fields() -> EntityField | list[EntityField] | None:
    """Return the fields this plugin adds to addresses, as
    :class:`app.plugin_api.EntityField` objects with ``load`` and ``save``.

    Called once per app. As with ``register_customer_fields``, each field then
    exists wherever an address does (bodies its ``input`` allows, every answer,
    events, hooks, GraphQL's ``CustomerAddress``, OpenAPI). EverShop's
    ``customer_address`` table has no ``meta_data`` column, so the plugin
    stores the values itself: a field without ``load`` stops start-up.

    :return: a field, a list of them, or None.
    """


@hookspec
def address_rules() -> list | None:
    """Return extra rules every address must pass, on create and on update.

    Called each time an address is about to be written, with the address as
    it will be stored (on update: the current address merged with the change).
    The built-in rules (required fields, lengths, ISO country code) run first.

    :return: a callable or a list of callables ``rule(address: dict) -> None |
        str | dict``; ``address`` has the fields of the address object
        (``country`` upper case). Return None to accept; a message to refuse
        the whole address; or ``{field: message}`` to refuse naming fields.
        The client gets a 400.
    """


@hookspec
def address_before_create(customer: dict, data: dict, context: HookContext) -> None:
    """Called before an address is inserted, inside the transaction.

    :param customer: the owner, as the API shows it.
    :param data: the validated address fields (``is_default`` resolved to a
        boolean), which the hook may change in place; changed values are not
        validated again.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse with that status and message.
    """


@hookspec
def address_after_create(address: dict, context: HookContext) -> None:
    """Called after a new address was committed.

    :param address: the address as the API shows it (a copy).
    :param context: who acted.
    """


@hookspec
def address_before_update(address: dict, data: dict, context: HookContext) -> None:
    """Called before an address is updated, inside the transaction.

    Not called for an empty update (``{}``), which writes nothing.

    :param address: the address as it is now, as the API shows it.
    :param data: the validated changes, which the hook may change in place.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the update.
    """


@hookspec
def address_after_update(address: dict, changes: list[str], context: HookContext) -> None:
    """Called after an address update was committed.

    :param address: the address as it is now.
    :param changes: the names of the fields that changed.
    :param context: who acted.
    """


@hookspec
def address_before_delete(address: dict, context: HookContext) -> None:
    """Called before an address is deleted, inside the transaction.

    :param address: the address as the API shows it.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the deletion.
    """


@hookspec
def address_after_delete(address: dict, context: HookContext) -> None:
    """Called after an address deletion was committed.

    :param address: the address as it was.
    :param context: who acted.
    """
