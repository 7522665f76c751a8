"""``flask user create``: admin users are made from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth import service
from app.errors import AppError

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
