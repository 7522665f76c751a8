"""Address endpoints (docs/api.md, "Addresses"): for an admin, or for the customer whose
uuid is in the path; and the ``/me`` forms for the customer of the token."""

from __future__ import annotations

import uuid

from app.auth.guards import allow, current_principal, hook_context
from app.http import Blueprint, load, read_json_body
from app.openapi import location_header
from plugins.address import examples, service
from plugins.address.presenter import fields, on_me_route
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


OTHERS = "A customer may only manage its own addresses."


def _me() -> uuid.UUID:
    return uuid.UUID(current_principal().account["uuid"])


def _body(base) -> dict:
    """The JSON body, validated by ``base`` plus the plugins' address fields."""
    return load(fields().validator(base, "admin"), read_json_body())


def _request_body(schema, **example) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema, **example}}}


def _created(address: dict, location: str) -> tuple:
    # insertId: the new row's id, under EverShop's name.
    return (
        {"data": {**address, "insertId": address["customer_address_id"]}},
        201,
        {"Location": location},
    )


def _updated(address: dict) -> dict:
    # updatedId: the row's id, under EverShop's name.
    return {"data": {**address, "updatedId": address["customer_address_id"]}}


@blp.post(MANY)
@allow("admin", "owner", refusal=OTHERS)
@blp.doc(requestBody=_request_body(AddressCreateSchema, example=examples.CREATE_REQUEST))
@blp.response(201, AddressEnvelope, example=examples.CREATED, headers=LOCATION)
def create_address(customer_uuid):
    """Add an address to a customer."""
    address = service.create_address(customer_uuid, _body(AddressCreateSchema), hook_context())
    return _created(address, f"/api/customers/{customer_uuid}/addresses/{address['uuid']}")


@blp.get(MANY)
@allow("admin", "owner", refusal=OTHERS)
@blp.response(200, AddressListEnvelope, example=examples.LISTED)
def list_addresses(customer_uuid):
    """A customer's addresses, default first."""
    return {"data": service.list_addresses(customer_uuid)}


@blp.get(ONE)
@allow("admin", "owner", refusal=OTHERS)
@blp.response(200, AddressEnvelope)
def read_address(customer_uuid, address_uuid):
    """One address of a customer."""
    return {"data": service.get_address(customer_uuid, address_uuid)}


@blp.patch(ONE)
@allow("admin", "owner", refusal=OTHERS)
@blp.doc(requestBody=_request_body(AddressUpdateSchema, example=examples.UPDATE_REQUEST))
@blp.response(200, AddressEnvelope, example=examples.UPDATED)
def update_address(customer_uuid, address_uuid):
    """Change an address; the merged result must still be valid."""
    data = _body(AddressUpdateSchema)
    return _updated(service.update_address(customer_uuid, address_uuid, data, hook_context()))


@blp.delete(ONE)
@allow("admin", "owner", refusal=OTHERS)
@blp.response(200, AddressEnvelope, example=examples.DELETED)
def delete_address(customer_uuid, address_uuid):
    """Delete an address."""
    return {"data": service.delete_address(customer_uuid, address_uuid, hook_context())}


# --- the customer's own address book ------------------------------------------------


@blp.post("/me/addresses")
@allow("customer")
@blp.doc(requestBody=_request_body(AddressCreateSchema, example=examples.CREATE_REQUEST))
@blp.response(201, AddressEnvelope, example=examples.CREATED, headers=LOCATION)
def create_my_address():
    """Add an address to the customer of the token."""
    me = _me()
    address = service.create_address(me, _body(AddressCreateSchema), hook_context())
    return _created(on_me_route(address), f"/api/customers/{me}/addresses/{address['uuid']}")


@blp.get("/me/addresses")
@allow("customer")
@blp.response(200, AddressListEnvelope)
def list_my_addresses():
    """The token's customer's addresses, default first."""
    return {"data": [on_me_route(a) for a in service.list_addresses(_me())]}


@blp.get("/me/addresses/<uuid:address_uuid>")
@allow("customer")
@blp.response(200, AddressEnvelope)
def read_my_address(address_uuid):
    """One of the token's customer's addresses."""
    return {"data": on_me_route(service.get_address(_me(), address_uuid))}


@blp.patch("/me/addresses/<uuid:address_uuid>")
@allow("customer")
@blp.doc(requestBody=_request_body(AddressUpdateSchema))
@blp.response(200, AddressEnvelope)
def update_my_address(address_uuid):
    """Change one of the token's customer's addresses."""
    data = _body(AddressUpdateSchema)
    return _updated(on_me_route(service.update_address(_me(), address_uuid, data, hook_context())))


@blp.delete("/me/addresses/<uuid:address_uuid>")
@allow("customer")
@blp.response(200, AddressEnvelope)
def delete_my_address(address_uuid):
    """Delete one of the token's customer's addresses."""
    return {"data": on_me_route(service.delete_address(_me(), address_uuid, hook_context()))}
