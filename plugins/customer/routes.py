"""Customer endpoints (CONTRACT §3) and customer tokens (§2): parse, call the
service, serialise."""

from __future__ import annotations

import uuid

import marshmallow as ma
from flask import current_app, request

from app.auth.guards import admin_required, current_principal, hook_context, require
from app.auth.schemas import AccessTokenEnvelope, LoginSchema, RefreshSchema, TokenPairEnvelope
from app.errors import Forbidden
from app.http import Blueprint, load, read_json_body
from app.openapi import access, errors, location_header
from app.ratelimit import rate_limited
from plugins.customer import examples, service
from plugins.customer.schemas import (
    CustomerCreateSchema,
    CustomerEnvelope,
    CustomerListQuerySchema,
    CustomerPageEnvelope,
    CustomerUpdateSchema,
    CustomerWithAddressesEnvelope,
    CustomerWithLinksEnvelope,
    SelfUpdateSchema,
    SignupSchema,
)

blp = Blueprint("customers", __name__, url_prefix="/api", description="Customers")


def _with_links(customer: dict) -> dict:
    return {**customer, "links": service.links(customer)}


def _location(customer: dict) -> dict:
    return {"Location": f"/api/customers/{customer['uuid']}"}


@blp.post("/customers")
@rate_limited("signup", exempt_when=lambda: "Authorization" in request.headers)
@access("admin", anonymous=True)
@errors(403, 409)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": CustomerCreateSchema,
                "examples": examples.CREATE_REQUESTS,
            }
        },
    }
)
@blp.response(
    201,
    CustomerWithLinksEnvelope,
    example=examples.CREATED,
    headers=location_header("/api/customers/<uuid>"),
)
def create_customer():
    """Create a customer (admin), or sign up (no token)."""
    principal = current_principal()
    if principal is None:
        if not current_app.config["CUSTOMER_REGISTRATION_OPEN"]:
            raise Forbidden("Registration is closed; an admin must create the account.")
        schema = SignupSchema()
    elif principal.token_type == "admin":
        schema = CustomerCreateSchema()
    else:
        raise Forbidden("A signed-in customer cannot create customers.")
    data = load(schema, read_json_body())
    customer = service.create_customer(data, hook_context())
    return {"data": _with_links(customer)}, 201, _location(customer)


@blp.get("/customers")
@admin_required
# webargs drops unknown query parameters by default; here, as in a body, they are a 400.
@blp.arguments(CustomerListQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, CustomerPageEnvelope)
def list_customers(filters):
    """List customers, filtered and paginated (admin)."""
    return {"data": service.list_customers(filters)}


@blp.get("/customers/me")
@access("customer")
@errors(403)
@blp.response(200, CustomerWithAddressesEnvelope)
def read_me():
    """The customer of the token."""
    principal = require("customer")
    return {"data": service.get_customer(_uuid_of(principal))}


@blp.patch("/customers/me")
@access("customer")
@errors(403, 409)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": SelfUpdateSchema, "example": examples.UPDATE_REQUEST}
        },
    }
)
@blp.response(200, CustomerWithLinksEnvelope)
def update_me():
    """The customer of the token edits its name or email."""
    principal = require("customer")
    data = load(SelfUpdateSchema(), read_json_body())
    customer = service.update_customer(_uuid_of(principal), data, hook_context())
    return {"data": _with_links(customer)}


@blp.get("/customers/<uuid:customer_uuid>")
@access("admin", "customer")
@errors(403)
@blp.response(200, CustomerWithAddressesEnvelope)
def read_customer(customer_uuid):
    """One customer (admin, or that customer)."""
    principal = require("admin", "customer")
    if principal.token_type == "customer" and _uuid_of(principal) != customer_uuid:
        raise Forbidden("A customer may only read its own account.")
    return {"data": service.get_customer(customer_uuid)}


@blp.patch("/customers/<uuid:customer_uuid>")
@admin_required
@errors(409)
@blp.arguments(CustomerUpdateSchema, example=examples.UPDATE_REQUEST)
@blp.response(200, CustomerWithLinksEnvelope, example=examples.UPDATED)
def update_customer(data, customer_uuid):
    """Update a customer (admin)."""
    customer = service.update_customer(customer_uuid, data, hook_context())
    return {"data": _with_links(customer)}


@blp.delete("/customers/<uuid:customer_uuid>")
@admin_required
@blp.response(200, CustomerEnvelope, example=examples.DELETED)
def delete_customer(customer_uuid):
    """Delete a customer with its addresses (admin)."""
    return {"data": service.delete_customer(customer_uuid, hook_context())}


@blp.post("/customer/tokens")
@rate_limited("tokens")
@errors(401)
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairEnvelope)
def issue_customer_tokens(body):
    """Log a customer in: an access and a refresh token."""
    return {"data": service.login(body["email"], body["password"], hook_context())}


@blp.post("/customer/token/refresh")
@rate_limited("tokens")
@errors(401)
@blp.arguments(RefreshSchema)
@blp.response(200, AccessTokenEnvelope)
def refresh_customer_token(body):
    """A new customer access token from a refresh token."""
    return {"data": service.refresh(body["refreshToken"])}


def _uuid_of(principal) -> uuid.UUID:
    return uuid.UUID(principal.account["uuid"])
