"""Address endpoints (CONTRACT §4): for an admin, or for the customer whose
uuid is in the path; and the ``/me`` forms for the customer of the token."""

from __future__ import annotations

import functools
import uuid

from app.auth.guards import customer_required, hook_context, require
from app.errors import Forbidden
from app.http import Blueprint
from app.openapi import access, errors, location_header
from plugins.address import examples, service
from plugins.address.schemas import (
    AddressCreateSchema,
    AddressEnvelope,
    AddressListEnvelope,
    AddressUpdateSchema,
)

blp = Blueprint(
    "addresses", __name__, url_prefix="/api/customers", description="Customer addresses"
)

ONE = "/<uuid:customer_uuid>/addresses/<uuid:address_uuid>"
MANY = "/<uuid:customer_uuid>/addresses"
LOCATION = location_header("/api/customers/<customer uuid>/addresses/<address uuid>")


def owner_or_admin(view):
    """An admin token, or the token of the customer in the path (else 403);
    checked before the body is read."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        principal = require("admin", "customer")
        if principal.token_type == "customer" and _me(principal) != kwargs["customer_uuid"]:
            raise Forbidden("A customer may only manage its own addresses.")
        return view(*args, **kwargs)

    return access("admin", "customer")(errors(403)(wrapper))


def _me(principal=None) -> uuid.UUID:
    principal = principal or require("customer")
    return uuid.UUID(principal.account["uuid"])


def _created(address: dict, customer_uuid) -> tuple:
    location = f"/api/customers/{customer_uuid}/addresses/{address['uuid']}"
    return {"data": address}, 201, {"Location": location}


@blp.post(MANY)
@owner_or_admin
@blp.arguments(AddressCreateSchema, example=examples.CREATE_REQUEST)
@blp.response(201, AddressEnvelope, example=examples.CREATED, headers=LOCATION)
def create_address(data, customer_uuid):
    """Add an address to a customer."""
    return _created(service.create_address(customer_uuid, data, hook_context()), customer_uuid)


@blp.get(MANY)
@owner_or_admin
@blp.response(200, AddressListEnvelope, example=examples.LISTED)
def list_addresses(customer_uuid):
    """A customer's addresses, default first."""
    return {"data": service.list_addresses(customer_uuid)}


@blp.get(ONE)
@owner_or_admin
@blp.response(200, AddressEnvelope)
def read_address(customer_uuid, address_uuid):
    """One address of a customer."""
    return {"data": service.get_address(customer_uuid, address_uuid)}


@blp.patch(ONE)
@owner_or_admin
@blp.arguments(AddressUpdateSchema, example=examples.UPDATE_REQUEST)
@blp.response(200, AddressEnvelope, example=examples.UPDATED)
def update_address(data, customer_uuid, address_uuid):
    """Change an address; the merged result must still be valid."""
    return {"data": service.update_address(customer_uuid, address_uuid, data, hook_context())}


@blp.delete(ONE)
@owner_or_admin
@blp.response(200, AddressEnvelope, example=examples.DELETED)
def delete_address(customer_uuid, address_uuid):
    """Delete an address."""
    return {"data": service.delete_address(customer_uuid, address_uuid, hook_context())}


# --- the customer's own address book ------------------------------------------------


@blp.post("/me/addresses")
@customer_required
@blp.arguments(AddressCreateSchema, example=examples.CREATE_REQUEST)
@blp.response(201, AddressEnvelope, example=examples.CREATED, headers=LOCATION)
def create_my_address(data):
    """Add an address to the customer of the token."""
    me = _me()
    return _created(service.create_address(me, data, hook_context()), me)


@blp.get("/me/addresses")
@customer_required
@blp.response(200, AddressListEnvelope)
def list_my_addresses():
    """The token's customer's addresses, default first."""
    return {"data": service.list_addresses(_me())}


@blp.get("/me/addresses/<uuid:address_uuid>")
@customer_required
@blp.response(200, AddressEnvelope)
def read_my_address(address_uuid):
    """One of the token's customer's addresses."""
    return {"data": service.get_address(_me(), address_uuid)}


@blp.patch("/me/addresses/<uuid:address_uuid>")
@customer_required
@blp.arguments(AddressUpdateSchema)
@blp.response(200, AddressEnvelope)
def update_my_address(data, address_uuid):
    """Change one of the token's customer's addresses."""
    return {"data": service.update_address(_me(), address_uuid, data, hook_context())}


@blp.delete("/me/addresses/<uuid:address_uuid>")
@customer_required
@blp.response(200, AddressEnvelope)
def delete_my_address(address_uuid):
    """Delete one of the token's customer's addresses."""
    return {"data": service.delete_address(_me(), address_uuid, hook_context())}
