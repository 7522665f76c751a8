"""The core's own plugin: admin tokens, the ``flask user`` commands, and the
account behind an admin token."""

from __future__ import annotations

from app.plugins import hookimpl


@hookimpl
def register_blueprints():
    from app.auth.routes import blp

    return [blp]


@hookimpl
def register_commands(cli):
    from app.auth.cli import user_cli

    cli.add_command(user_cli)


@hookimpl
def auth_account_for_token(token_type, claims):
    if token_type != "admin":
        return None
    from app.auth.models import account_of
    from app.auth.service import active_admin

    user = active_admin(claims)
    return account_of(user) if user else None
