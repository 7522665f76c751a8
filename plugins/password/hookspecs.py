"""The password plugin's hooks: around reset requests and new passwords."""

from __future__ import annotations

import pluggy

from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def password_before_reset_request(data: dict, context: HookContext) -> None:
    """Called when a reset link is asked for, before the request is recorded.

    Runs in the request, for every well-formed email, known or not (so it must
    not tell them apart: the answer is the same either way). A plugin that
    rewrites emails on sign-up rewrites them here the same way, so that the
    address the customer types finds the account.

    :param data: ``{"email": ...}`` as validated, which the hook may change in place.
    :param context: who is acting: anonymous, with the request id.
    :raise app.errors.AppError: to refuse the request with that status and message.
    """


@hookspec
def password_after_reset_request(customer: dict, context: HookContext) -> None:
    """Called after a reset link was made for an active customer and emailed.

    Runs in the process that delivers events (not in the request, whose answer
    never depends on whether the account exists), after the token was stored
    and the email accepted by the mail server.

    :param customer: the customer as the API shows it.
    :param context: a :class:`app.plugin_api.HookContext` with no actor.
    """


@hookspec
def password_before_update(customer: dict, context: HookContext) -> None:
    """Called before a customer's password is replaced through a reset token,
    inside the transaction, after the token and the password rules were checked.

    :param customer: the customer as the API shows it.
    :param context: who is acting (an anonymous holder of the token).
    :raise app.errors.AppError: to refuse; the token stays usable.
    """


@hookspec
def password_after_update(customer: dict, context: HookContext) -> None:
    """Called after a password reset was committed (every reset token of the
    customer is void, and its older access and refresh tokens are refused).

    :param customer: the customer as the API shows it.
    :param context: who acted.
    """
