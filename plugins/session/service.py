"""Revoking customers' sessions (docs/api.md, "Sessions").

A session is the tokens of one login: the access and refresh tokens it gave,
and every access token minted from that refresh token since; they share the
``sid`` claim. Revoking one session records its id
(:func:`app.auth.tokens.revoke_session`); revoking all of them moves the
customer's token version on and sets its ``tokens_revoked_at``, through the
customer plugin's service. Either way the tokens are refused from the next
request on, access tokens included. Emits ``customer_sessions_revoked``.
"""

from __future__ import annotations

import uuid

from app.auth import tokens
from app.errors import BadRequest, NotFound
from app.events import emit
from app.plugins import HookContext, hooks
from app.services import service
from app.transactions import after_commit, transaction
from plugins.session import events

NO_SESSION = (
    "This token belongs to no session (it was signed before sessions existed, or by"
    " EverShop): revoke every session with ?all=true."
)


def _revoked(customer: dict, all_sessions: bool, context: HookContext) -> None:
    """The event and the after-hook of a revocation, in the caller's transaction."""
    emit(
        events.CUSTOMER_SESSIONS_REVOKED,
        {
            "customer": customer,
            "all_sessions": all_sessions,
            "revoked_by": "admin" if context.actor_type == "admin" else "customer",
        },
    )
    after_commit(
        lambda: hooks().customer_sessions_after_revoke(
            customer=dict(customer), all_sessions=all_sessions, context=context
        )
    )


def revoke_session(claims: dict, context: HookContext) -> None:
    """Revoke the session of a customer's verified access token ``claims``:
    its tokens, the refresh token of its login included, are refused from now
    on. 400 for a token without a session id."""
    with transaction():
        customer = service("customers").find(customer_id=claims["customer"]["customer_id"])
        if customer is None:
            raise NotFound("Customer not found.")
        if not tokens.revoke_session(claims):
            raise BadRequest(NO_SESSION)
        _revoked(customer, False, context)


def revoke_all(customer_uuid: uuid.UUID, context: HookContext) -> None:
    """Revoke every session of the customer: every access and refresh token
    it holds now is refused, those signed by EverShop included; 404."""
    with transaction():
        customers = service("customers")
        customer = customers.lock(customer_uuid)
        shown = customers.revoke_tokens(customer["customer_id"])
        _revoked(shown, True, context)
