"""The group plugin's hooks: around the creation, renaming and deletion of
customer groups. Customers moved between groups are updates of customers:
``customer_before_update`` and ``customer_after_update`` run for each."""

from __future__ import annotations

import pluggy

from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def customer_group_before_create(data: dict, context: HookContext) -> None:
    """Called before a customer group is inserted, inside the transaction.

    :param data: the validated input (``group_name``), which the hook may
        change in place; a changed name is still checked for uniqueness.
    :param context: who is acting (an admin).
    :raise app.errors.AppError: to refuse the creation with that status and message.
    """


@hookspec
def customer_group_after_create(group: dict, context: HookContext) -> None:
    """Called after a new customer group was committed.

    :param group: the group as the API shows it (a copy).
    :param context: who acted.
    """


@hookspec
def customer_group_before_update(group: dict, data: dict, context: HookContext) -> None:
    """Called before a customer group is renamed, inside the transaction. Not
    called for an update that changes nothing.

    :param group: the group as it is now, as the API shows it.
    :param data: the validated changes (``group_name``), which the hook may
        change in place; a changed name is still checked for uniqueness.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the update.
    """


@hookspec
def customer_group_after_update(group: dict, changes: list[str], context: HookContext) -> None:
    """Called after a customer group update was committed.

    :param group: the group as it is now, as the API shows it.
    :param changes: the names of the fields that changed (``["group_name"]``).
    :param context: who acted.
    """


@hookspec
def customer_group_before_delete(group: dict, move_to: dict | None, context: HookContext) -> None:
    """Called before a customer group is deleted, inside the transaction, once
    the deletion is allowed and before its customers are moved.

    :param group: the group as the API shows it (``customer_count`` is how
        many customers it has).
    :param move_to: the group its customers move to, as the API shows it, or
        None when none was named (the group then has no customers).
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the deletion: nothing is moved or deleted.
    """


@hookspec
def customer_group_after_delete(group: dict, move_to: dict | None, context: HookContext) -> None:
    """Called after a customer group was deleted (and its customers moved) and
    the change committed.

    :param group: the group as it was, as the API showed it.
    :param move_to: the group its customers were moved to, or None.
    :param context: who acted.
    """
