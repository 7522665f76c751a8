"""``flask customers find|disable|enable``: an operator's look-ups and switches
(docs/operations.md, "Operator commands")."""

from __future__ import annotations

import uuid

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.db import db
from app.events import left_for_worker
from app.plugins import HookContext
from plugins.customer import service
from plugins.customer.models import Customer
from plugins.customer.presenter import present_many
from plugins.customer.queries import build_customer_query

STATUS_NAMES = {1: "active", 0: "disabled"}


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def _matches(query: str, limit: int) -> list[dict]:
    """Customers whose uuid is ``query``, or whose email or name contains it."""
    found_uuid = _as_uuid(query)
    if found_uuid is not None:
        rows = list(db.session.scalars(sa.select(Customer).where(Customer.uuid == found_uuid)))
    else:
        page = build_customer_query({"keyword": query.strip(), "ob": "email", "limit": limit})
        rows = list(db.session.scalars(page.statement))
    shown = present_many(rows)
    db.session.rollback()
    return shown


@click.command("find")
@with_appcontext
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help="Most customers to list.")
def find_customers(query: str, limit: int) -> None:
    """Find customers by uuid, or by a part of their email or name (any
    letter case). One line each: id, uuid, email, status, full name; never a
    password hash. No match: exit status 1."""
    found = _matches(query, limit)
    if not found:
        raise click.ClickException(f"no customer matches {query.strip()!r}")
    for customer in found:
        click.echo(
            f"{customer['customer_id']}\t{customer['uuid']}\t{customer['email']}\t"
            f"{STATUS_NAMES.get(customer['status'], customer['status'])}\t"
            f"{customer['full_name'] or ''}".rstrip("\t")
        )


def _set_status(email: str, status: int) -> None:
    customer = service.find(email=email)
    if customer is None:
        raise click.ClickException(f"no customer has the email {email.strip()}")
    word = STATUS_NAMES[status]
    if customer["status"] == status:
        click.echo(f"Customer {customer['email']} is already {word}.")
        return
    # Through the service, as an admin's PATCH: hooks run and customer_updated
    # is written; the worker delivers it after this command has exited.
    with left_for_worker():
        service.update_customer(uuid.UUID(customer["uuid"]), {"status": status}, HookContext())
    click.echo(f"Customer {customer['email']} is now {word}.")


@click.command("disable")
@with_appcontext
@click.argument("email")
def disable_customer(email: str) -> None:
    """Disable a customer (status 0): its logins and every token it holds are
    refused at once, and it gets no reset emails. Runs the update hooks and
    writes customer_updated, as an admin's PATCH does."""
    _set_status(email, 0)


@click.command("enable")
@with_appcontext
@click.argument("email")
def enable_customer(email: str) -> None:
    """Enable a disabled customer (status 1) again: its password and the
    tokens it held before are accepted again (those its password change
    revoked stay refused). Runs the update hooks and writes customer_updated."""
    _set_status(email, 1)


COMMANDS = [find_customers, disable_customer, enable_customer]
