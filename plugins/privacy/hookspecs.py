"""The privacy plugin's hooks: what plugins add to a customer's export, and
how they erase what they keep about a customer."""

from __future__ import annotations

import pluggy

from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def customer_export(customer: dict) -> dict | None:
    """Return what this plugin holds about a customer, for its data export
    (``GET /api/customers/{uuid}/export``, ``flask customers export-one``).

    Called outside any write transaction, once per export. Every plugin that
    keeps data about customers should answer: the export is the customer's
    copy of everything the service holds about it. Implement it with
    ``@hookimpl(optionalhook=True)`` so that your plugin also loads where the
    privacy plugin is blocked.

    :param customer: the customer as the API shows it.
    :return: ``{section: data}``, each section named after your plugin or
        what it holds (``"loyalty": {...}``), with JSON values only and never
        a secret (a password hash, a token); or None. A section name another
        plugin or the document already uses fails the export.
    """


@hookspec
def customer_before_erase(customer: dict, context: HookContext) -> None:
    """Called before a customer is erased, inside the transaction.

    :param customer: the customer as the API shows it.
    :param context: who is acting: an admin, or the customer through its
        confirmation link.
    :raise app.errors.AppError: to refuse the erasure (e.g. ``Conflict`` while
        the customer has open orders): the client gets that status and message
        and nothing is erased.
    """


@hookspec
def customer_erase(customer: dict, mode: str, context: HookContext) -> None:
    """Erase what this plugin keeps about a customer, inside the erasure's
    transaction (everything rolls back together if any step fails).

    Called before the customer's own row is anonymised or deleted. Delete or
    replace every personal value your plugin stores; keep only what holds no
    personal data. Implement it with ``@hookimpl(optionalhook=True)`` so that
    your plugin also loads where the privacy plugin is blocked.

    :param customer: the customer as the API shows it, before the erasure.
    :param mode: ``"anonymise"`` (the customer's row stays, anonymised) or
        ``"delete"`` (the row is deleted next; your rows that reference it
        with ``ON DELETE CASCADE`` go with it).
    :param context: who is acting.
    :return: ignored.
    """
