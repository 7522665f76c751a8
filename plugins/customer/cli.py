"""``flask customers unlock``: lift a customer's failed-login locks."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.login_limits import CountersOutOfReach
from plugins.customer import service

customers_cli = AppGroup("customers", help="Manage customers.")


@customers_cli.command("unlock")
@click.argument("email")
def unlock_customer(email: str) -> None:
    """Lift the failed-login locks of a customer: from every address, and the
    wait past the account's ceiling (docs/api.md, "Rate limits")."""
    try:
        unlocked = service.unlock_logins(email)
    except CountersOutOfReach as error:
        raise click.ClickException(str(error)) from None
    if not unlocked:
        click.echo("Rate limits are off (RATELIMIT_ENABLED=false): nothing is locked.")
        return
    click.echo(f"Unlocked the logins of customer {email.strip()}.")
