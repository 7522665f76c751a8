"""Wires the address plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl

# Customers are this plugin's subject: it goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_blueprints():
    from plugins.address.routes import blp

    return [blp]


@hookimpl
def customer_extend_read(customers):
    from plugins.address.service import addresses_by_customer

    found = addresses_by_customer(customers)
    for customer in customers:
        customer["addresses"] = found.get(customer["customer_id"], [])


@hookimpl
def register_graphql(audience):
    from plugins.address.graphql import contribution

    return contribution(audience)


@hookimpl
def register_hookspecs():
    from plugins.address import hookspecs

    return hookspecs


@hookimpl
def register_events():
    from plugins.address.events import EVENTS

    return EVENTS


@hookimpl
def extend_openapi(spec):
    from plugins.address.presenter import fields

    fields().document(
        spec, {"Address": "output", "AddressCreate": "admin", "AddressUpdate": "admin"}
    )


@hookimpl
def register_services():
    from plugins.address import bulk

    # The address part of `flask customers import` (docs/operations.md).
    return {"address_import": bulk}


# The privacy plugin's hooks: optional, so that this plugin loads without it.
@hookimpl(optionalhook=True)
def customer_export(customer):
    from plugins.address.service import addresses_by_customer

    return {"addresses": addresses_by_customer([customer], links=False)[customer["customer_id"]]}


@hookimpl(optionalhook=True)
def customer_erase(customer):
    # Deleted rather than blanked: nothing of them is kept (docs/api.md, "Erasure").
    from plugins.address.service import erase_addresses

    erase_addresses(customer["customer_id"])
