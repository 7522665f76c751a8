"""The session plugin's hook: after a customer's sessions were revoked."""

from __future__ import annotations

import pluggy

from app.plugins import HookContext

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def customer_sessions_after_revoke(
    customer: dict, all_sessions: bool, context: HookContext
) -> None:
    """Called after a customer's sessions were revoked and the change committed:
    from then on their access and refresh tokens are refused.

    :param customer: the customer as the API shows it.
    :param all_sessions: True when every session of the customer was revoked
        (by the customer with ``?all=true``, or by an admin), False for the one
        session of the token the customer logged out with.
    :param context: who acted: the customer itself or an admin.
    """
