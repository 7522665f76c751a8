"""Who is calling: the Bearer token of the request, verified once per request.

A present but invalid ``Authorization`` header is a 401 on every ``/api``
route, public ones included; it is never read as "anonymous" (CONTRACT §2).
:func:`init_app` checks it before any view runs, so no view can forget to.

``WWW-Authenticate: Bearer`` goes with the 401s that are about the bearer
token: a bad ``Authorization`` header anywhere, and any 401 of a route that
reads the token. A failed login or refresh is not such a 401 (docs/api.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import Flask, g, request

from app.auth import tokens
from app.errors import Forbidden, Unauthorized
from app.openapi import SCHEMES, access, errors
from app.plugins import HookContext, plugin_manager

_UNSET = object()


@dataclass(frozen=True)
class Principal:
    token_type: str  # "admin" or "customer"
    account: dict  # the account as the API shows it
    claims: dict


def _authenticate() -> Principal | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    try:
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("The Authorization header must read 'Bearer <token>'.")
        claims = tokens.verify(token, "access")
        token_type = claims["tokenType"]
        account = plugin_manager().hook.auth_account_for_token(token_type=token_type, claims=claims)
        if account is None:
            raise Unauthorized(
                "The token's account no longer exists, is disabled, or its token was revoked."
            )
    except Unauthorized:
        g.bearer_challenge = True
        raise
    return Principal(token_type, account, claims)


def _principal() -> Principal | None:
    principal = g.get("principal", _UNSET)
    if principal is _UNSET:
        g.principal = principal = _authenticate()
    return principal


def current_principal() -> Principal | None:
    """The verified caller of this request, or None when anonymous; 401 on a bad token.

    Marks the route as one that reads the token: its 401s, a plugin's veto
    included, carry ``WWW-Authenticate: Bearer``.
    """
    g.bearer_challenge = True
    return _principal()


def require(*token_types: str) -> Principal:
    """The caller, who must hold an access token of one of ``token_types``:
    401 without a token, 403 with a token of another type."""
    principal = current_principal()
    if principal is None:
        raise Unauthorized()
    if principal.token_type not in token_types:
        raise Forbidden("This token does not grant access to this resource.")
    return principal


def token_required(*token_types: str):
    """Decorator: the route needs an access token of one of ``token_types``
    (checked before the body is read, so that a stranger learns nothing)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            require(*token_types)
            return view(*args, **kwargs)

        # The OpenAPI document says who may call, and that the other token type is a 403.
        documented = access(*token_types)(wrapper)
        return errors(403)(documented) if set(token_types) != set(SCHEMES) else documented

    return decorate


admin_required = token_required("admin")
customer_required = token_required("customer")


def hook_context() -> HookContext:
    """The :class:`HookContext` that routes hand to services."""
    principal = current_principal()
    return HookContext(
        actor_type=principal.token_type if principal else None,
        actor=dict(principal.account) if principal else None,
        request_id=g.get("request_id"),
    )


def _check_authorization_header() -> None:
    """401 for a present but invalid ``Authorization`` header on any ``/api``
    route that exists, before its view runs. Preflights never carry one."""
    if (
        "Authorization" in request.headers
        and request.method != "OPTIONS"
        and request.routing_exception is None
        and request.path.startswith("/api/")
    ):
        _principal()


def _challenge(response):
    if response.status_code == 401 and g.get("bearer_challenge"):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def init_app(app: Flask) -> None:
    app.before_request(_check_authorization_header)
    app.after_request(_challenge)
