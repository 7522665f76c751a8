"""``flask user``: admin users are made and managed from the command line only
(docs/operations.md, "Admin users").

Every command that names an admin by email fails with one line and exit
status 1 when no admin has that email (in any letter case).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth import service
from app.errors import AppError
from app.login_limits import CountersOutOfReach

user_cli = AppGroup("user", help="Manage admin users.")


def _fail(error: AppError) -> click.ClickException:
    return click.ClickException(error.message)


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
        raise _fail(error) from None
    click.echo(f"Created admin user {user.email} ({user.uuid})")


@user_cli.command("list")
def list_users() -> None:
    """List admin users: email, status and creation time (UTC), oldest first."""
    users = service.list_admins()
    if not users:
        click.echo("No admin users.")
        return
    width = max(len(user["email"]) for user in users)
    for user in users:
        status = "active" if user["status"] else "disabled"
        click.echo(f"{user['email']:<{width}}  {status:<8}  {user['created_at']}")


@user_cli.command("disable")
@click.argument("email")
def disable_user(email: str) -> None:
    """Disable an admin: it cannot log in, and every token it holds is
    refused from the next request on."""
    try:
        user = service.set_admin_status(email, False)
    except AppError as error:
        raise _fail(error) from None
    click.echo(f"Disabled admin user {user['email']}; its tokens are revoked.")


@user_cli.command("enable")
@click.argument("email")
def enable_user(email: str) -> None:
    """Enable an admin again (it logs in anew: tokens revoked when it was
    disabled stay revoked)."""
    try:
        user = service.set_admin_status(email, True)
    except AppError as error:
        raise _fail(error) from None
    click.echo(f"Enabled admin user {user['email']}.")


@user_cli.command("set-password")
@click.argument("email")
@click.option("--password", default=None, help="Prompted for (hidden, twice) when not given.")
def set_user_password(email: str, password: str | None) -> None:
    """Give an admin a new password; every token it holds is revoked."""
    try:
        service.find_admin(email)  # an unknown email fails before the prompt
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        user = service.set_admin_password(email, password)
    except AppError as error:
        raise _fail(error) from None
    click.echo(f"Changed the password of admin user {user['email']}; its tokens are revoked.")


@user_cli.command("revoke")
@click.argument("email")
def revoke_user(email: str) -> None:
    """Revoke every access and refresh token of an admin (it logs in again)."""
    try:
        user = service.revoke_admin_tokens(email)
    except AppError as error:
        raise _fail(error) from None
    click.echo(f"Revoked every token of admin user {user['email']}.")


@user_cli.command("unlock")
@click.argument("email")
def unlock_user(email: str) -> None:
    """Lift the failed-login locks of an admin: from every address, and the
    wait past the account's ceiling (docs/api.md, "Rate limits")."""
    try:
        service.find_admin(email)
        unlocked = service.unlock_logins(email)
    except AppError as error:
        raise _fail(error) from None
    except CountersOutOfReach as error:
        raise click.ClickException(str(error)) from None
    if not unlocked:
        click.echo("Rate limits are off (RATELIMIT_ENABLED=false): nothing is locked.")
        return
    click.echo(f"Unlocked the logins of admin user {email.strip()}.")
