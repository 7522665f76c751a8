"""Wires the customer plugin into the service: its routes, the ``flask customers``
commands, the account behind a customer token and its GraphQL types."""

from __future__ import annotations

from app.plugins import hookimpl


@hookimpl
def register_blueprints():
    from plugins.customer.routes import blp

    return [blp]


@hookimpl
def register_commands(cli):
    from plugins.customer.bulk_cli import COMMANDS as BULK_COMMANDS
    from plugins.customer.cli import customers_cli
    from plugins.customer.operator_cli import COMMANDS as OPERATOR_COMMANDS

    for command in OPERATOR_COMMANDS + BULK_COMMANDS:
        customers_cli.add_command(command)
    cli.add_command(customers_cli)


@hookimpl
def auth_account_for_token(token_type, claims):
    if token_type != "customer":
        return None
    from plugins.customer.presenter import account
    from plugins.customer.service import active_customer

    customer = active_customer(claims)
    return account(customer) if customer else None


@hookimpl
def register_graphql(audience):
    from plugins.customer.graphql import contribution

    return contribution(audience)


@hookimpl
def register_hookspecs():
    from plugins.customer import hookspecs

    return hookspecs


@hookimpl
def register_events():
    from plugins.customer.events import EVENTS

    return EVENTS


@hookimpl
def extend_openapi(spec):
    from plugins.customer.presenter import fields

    fields().document(
        spec,
        {
            "Customer": "output",
            "CustomerWithLinks": "output",
            "CustomerWithAddresses": "output",
            "CustomerCreate": "admin",
            "CustomerUpdate": "admin",
            "SelfUpdate": "self",
        },
    )


@hookimpl
def register_services():
    from plugins.customer import groups, service

    return {"customers": service, "customer_groups": groups}
