"""Who is calling: the Bearer token of the request, verified once per request.

A present but invalid ``Authorization`` header is a 401 on every ``/api``
route, public ones included; it is never read as "anonymous" (docs/api.md, "Authentication").
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
from app.db import retrying_reads
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


# Who may call a route (see allow()).
WHO = ("admin", "customer", "owner", "anonymous")


def allow(
    *who: str,
    owner_param: str = "customer_uuid",
    refusal: str = "A customer may only reach its own account here.",
):
    """Decorator: who may call the route, enforced before the view reads its
    body and written into the OpenAPI document, in one place.

    * ``"admin"``: an admin access token;
    * ``"customer"``: any customer's access token;
    * ``"owner"``: the token of the customer whose uuid is the path's
      ``owner_param`` (another customer's token is a 403);
    * ``"anonymous"``: no token at all.

    A caller none of these admits gets a 401 without a token and a 403 with
    one (``refusal`` is the 403's message for another customer's token). The
    view reads the caller with :func:`current_principal`.
    """
    unknown = set(who) - set(WHO)
    if unknown or not who:
        raise ValueError(f"allow() takes some of {WHO}, not {sorted(unknown) or 'nothing'}")
    token_types = {"admin"} & set(who) | (
        {"customer"} if {"customer", "owner"} & set(who) else set()
    )

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                if "anonymous" not in who:
                    raise Unauthorized()
            elif principal.token_type not in token_types:
                raise Forbidden("This token does not grant access to this resource.")
            elif (
                principal.token_type == "customer"
                and "customer" not in who
                and str(kwargs.get(owner_param)) != principal.account["uuid"]
            ):
                raise Forbidden(refusal)
            return view(*args, **kwargs)

        documented = access(*sorted(token_types), anonymous="anonymous" in who)(guarded)
        refusable = token_types != set(SCHEMES) or ("owner" in who and "customer" not in who)
        return errors(403)(documented) if refusable else documented

    return decorate


def hook_context() -> HookContext:
    """The :class:`HookContext` that routes hand to services (reading the
    caller does not make the route one that challenges for a token)."""
    principal = _principal()
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
        retrying_reads(_principal)


def _challenge(response):
    if response.status_code == 401 and g.get("bearer_challenge"):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def init_app(app: Flask) -> None:
    app.before_request(_check_authorization_header)
    app.after_request(_challenge)
