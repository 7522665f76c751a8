"""``flask customers export-one EMAIL``: a customer's export on the command line."""

from __future__ import annotations

import json
import uuid

import click
from flask.cli import with_appcontext

from app.services import service


@click.command("export-one")
@click.argument("email")
@with_appcontext
def export_one(email: str) -> None:
    """Print everything the service holds about the customer with EMAIL (any
    letter case), as the export endpoint answers it: one JSON document."""
    from plugins.privacy.service import export_customer

    customer = service("customers").find(email=email.strip())
    if customer is None:
        raise click.ClickException(f"No customer has the email {email.strip()}.")
    document = export_customer(uuid.UUID(customer["uuid"]))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
