"""``flask user create``: admin users are made from the command line;
``flask user unlock`` lifts an admin's failed-login locks."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth import service
from app.errors import AppError
from app.login_limits import CountersOutOfReach

user_cli = AppGroup("user", help="Manage admin users.")


@user_cli.command("create")
@click.option("--email", required=True, help="The admin's email, used to log in.")
@click.option(
    "--password",
    required=True,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)
@click.option("--full-name", default=None, help="Shown in the admin token.")
def create_user(email: str, password: str, full_name: str | None) -> None:
    """Create an active admin user."""
    try:
        user = service.create_admin_user(email, password, full_name)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created admin user {user.email} ({user.uuid})")


@user_cli.command("unlock")
@click.argument("email")
def unlock_user(email: str) -> None:
    """Lift the failed-login locks of an admin: from every address, and the
    wait past the account's ceiling (docs/api.md, "Rate limits")."""
    try:
        unlocked = service.unlock_logins(email)
    except CountersOutOfReach as error:
        raise click.ClickException(str(error)) from None
    if not unlocked:
        click.echo("Rate limits are off (RATELIMIT_ENABLED=false): nothing is locked.")
        return
    click.echo(f"Unlocked the logins of admin user {email.strip()}.")
