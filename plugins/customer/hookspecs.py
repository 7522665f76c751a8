"""The customer plugin's hooks: what other plugins can do around customers."""

from __future__ import annotations

import pluggy

from app.entity_fields import EntityField
from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def register_customer_fields() -> EntityField | list[EntityField] | None:
    """Return the fields this plugin adds to customers, as
    :class:`app.plugin_api.EntityField` objects.

    Called once per app. Each field then exists wherever a customer does: in
    the create and update bodies its ``input`` allows (validated by its
    marshmallow field, so a bad value is a 400 naming it), in every answer
    (read, list, create, update, ``/me``), in events and hooks, as a GraphQL
    field of ``Customer`` when it has a ``graphql`` type, and in the OpenAPI
    schemas. Its value is kept in the customer's ``meta_data`` under this
    plugin's name, unless the field has ``load`` and ``save`` and the plugin
    stores it itself (its own table). A name already taken (by the service or
    another plugin) stops start-up.

    :return: a field, a list of them, or None.
    """


@hookspec
def customer_extend_read(customers: list[dict]) -> None:
    """Add details to customers read in full, one by one.

    Called, outside any write transaction, when a customer is read through
    ``GET /api/customers/{uuid}`` or ``GET /api/customers/me``, after the
    customers were loaded (the address plugin adds ``addresses`` here). It
    receives every customer of the answer at once, so that one query can
    serve them all (never one query per customer). A field that belongs in
    every answer is an :class:`app.plugin_api.EntityField`
    (``register_customer_fields``) instead. An exception is logged with the
    plugin's name and the answer goes out without that plugin's details.

    :param customers: a list of customers as the API shows them; set your
        fields on each dict in place (e.g. ``customer["addresses"] = [...]``).
        Do not remove or change the core fields.
    :return: ignored.
    """


@hookspec
def customer_before_create(data: dict, context: HookContext) -> None:
    """Called before a customer is inserted, inside the transaction.

    :param data: the validated input (``email``, ``full_name``, ``status``,
        ``group_id`` and any plugin fields), which the hook may change in place;
        changed values are not validated again. The password is not in it.
    :param context: who is acting (:class:`app.plugin_api.HookContext`).
    :raise app.errors.AppError: to refuse the sign-up with that status and message.
    """


@hookspec
def customer_after_create(customer: dict, context: HookContext) -> None:
    """Called after a new customer was committed.

    :param customer: the customer as the API shows it (a dict; a copy, so
        changing it changes nothing).
    :param context: who acted.
    """


@hookspec
def customer_before_update(customer: dict, data: dict, context: HookContext) -> None:
    """Called before a customer is updated, inside the transaction.

    Not called for an empty update (``{}``), which writes nothing.

    :param customer: the customer as it is now, as the API shows it.
    :param data: the validated changes, which the hook may change in place;
        a new password is not in it (it was checked by ``password_rules``).
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the update.
    """


@hookspec
def customer_after_update(customer: dict, changes: list[str], context: HookContext) -> None:
    """Called after a customer update was committed.

    :param customer: the customer as it is now, as the API shows it.
    :param changes: the names of the fields that changed (``"password"``
        included when it did).
    :param context: who acted.
    """


@hookspec
def customer_before_delete(customer: dict, context: HookContext) -> None:
    """Called before a customer, its addresses and its reset tokens are deleted,
    inside the transaction.

    :param customer: the customer as the API shows it.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the deletion (e.g. ``Forbidden``):
        the client gets that status and message and nothing is deleted.
    """


@hookspec
def customer_after_delete(customer: dict, context: HookContext) -> None:
    """Called after a customer was deleted and the deletion committed.

    :param customer: the customer as it was, as the API showed it.
    :param context: who acted.
    """


@hookspec
def customer_before_login(data: dict, context: HookContext) -> None:
    """Called when a customer logs in, before the account is looked up.

    A plugin that rewrites emails on sign-up (say, one that normalises
    ``John.Smith+shop@example.com`` to ``johnsmith@example.com``) rewrites them
    here the same way, so that the address the customer types still finds the
    account.

    :param data: ``{"email": ...}`` as the client sent it (trimmed), which the
        hook may change in place. The password is not in it.
    :param context: who is acting: anonymous, with the request id.
    :raise app.errors.AppError: to refuse the login with that status and
        message (a failed login is otherwise always the same 401).
    """


@hookspec
def customer_login_allowed(customer: dict, context: HookContext) -> None:
    """Called when a customer logs in with the right password, before its
    tokens are issued (not for a wrong password or a disabled account, which
    get the usual 401).

    The verification plugin refuses here the accounts whose email is not
    verified while ``CUSTOMER_EMAIL_VERIFICATION`` is ``required``. The
    password was right, so a refusal may say why: it is not counted as a
    failed login.

    :param customer: the customer as the API shows it (plugin fields included).
    :param context: who is acting: anonymous, with the request id.
    :raise app.errors.AppError: to refuse the login with that status and
        message (e.g. ``Forbidden``); no token is issued.
    """
