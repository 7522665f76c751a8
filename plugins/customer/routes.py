"""Customer endpoints (docs/api.md, "Customers") and customer tokens
(docs/api.md, "Authentication"): parse, call the service, serialise."""

from __future__ import annotations

import uuid

import marshmallow as ma
from flask import current_app, request

from app.auth.guards import allow, current_principal, hook_context
from app.auth.schemas import AccessTokenEnvelope, LoginSchema, RefreshSchema, TokenPairEnvelope
from app.errors import Forbidden
from app.http import Blueprint, load, read_json_body
from app.openapi import errors, location_header
from app.ratelimit import rate_limited
from plugins.customer import examples, metafields, service
from plugins.customer.presenter import fields, links
from plugins.customer.schemas import (
    CustomerCreateSchema,
    CustomerEnvelope,
    CustomerListQuerySchema,
    CustomerPageEnvelope,
    CustomerUpdateSchema,
    CustomerWithAddressesEnvelope,
    CustomerWithLinksEnvelope,
    MetafieldsEnvelope,
    MetafieldsUpdateSchema,
    SelfUpdateSchema,
    SignupSchema,
)

blp = Blueprint("customers", __name__, url_prefix="/api", description="Customers")


def _with_links(customer: dict) -> dict:
    return {**customer, "links": links(customer)}


def _body(base, who: str) -> dict:
    """The JSON body, validated by ``base`` plus the plugin fields ``who`` may send."""
    return load(fields().validator(base, who), read_json_body())


def _request_body(schema, **example) -> dict:
    """The OpenAPI request body of a view that reads its body itself (its
    schema grows with the plugins' fields)."""
    return {"required": True, "content": {"application/json": {"schema": schema, **example}}}


def _location(customer: dict) -> dict:
    return {"Location": f"/api/customers/{customer['uuid']}"}


@blp.post("/customers")
@rate_limited("signup", exempt_when=lambda: "Authorization" in request.headers)
@allow("admin", "anonymous")
@errors(409)
@blp.doc(requestBody=_request_body(CustomerCreateSchema, examples=examples.CREATE_REQUESTS))
@blp.response(
    201,
    CustomerWithLinksEnvelope,
    example=examples.CREATED,
    headers=location_header("/api/customers/<uuid>"),
)
def create_customer():
    """Create a customer (admin), or sign up (no token)."""
    if current_principal() is None:
        if not current_app.config["CUSTOMER_REGISTRATION_OPEN"]:
            raise Forbidden("Registration is closed; an admin must create the account.")
        data = _body(SignupSchema, "signup")
    else:
        data = _body(CustomerCreateSchema, "admin")
    customer = service.create_customer(data, hook_context())
    # insertId: the new row's id, under EverShop's name.
    answer = {**_with_links(customer), "insertId": customer["customer_id"]}
    return {"data": answer}, 201, _location(customer)


@blp.get("/customers")
@allow("admin")
# webargs drops unknown query parameters by default; here, as in a body, they are a 400.
@blp.arguments(CustomerListQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, CustomerPageEnvelope)
def list_customers(filters):
    """List customers, filtered and paginated (admin)."""
    return {"data": service.list_customers(filters)}


@blp.get("/customers/me")
@allow("customer")
@blp.response(200, CustomerWithAddressesEnvelope)
def read_me():
    """The customer of the token."""
    return {"data": _on_me_route(service.get_customer(_me()))}


@blp.patch("/customers/me")
@allow("customer")
@errors(409)
@blp.doc(requestBody=_request_body(SelfUpdateSchema, example=examples.UPDATE_REQUEST))
@blp.response(200, CustomerWithLinksEnvelope)
def update_me():
    """The customer of the token edits its name or email."""
    customer = service.update_customer(_me(), _body(SelfUpdateSchema, "self"), hook_context())
    return {"data": _with_links(customer)}


@blp.get("/customers/<uuid:customer_uuid>")
@allow("admin", "owner", refusal="A customer may only read its own account.")
@blp.response(200, CustomerWithAddressesEnvelope)
def read_customer(customer_uuid):
    """One customer (admin, or that customer)."""
    return {"data": service.get_customer(customer_uuid)}


@blp.patch("/customers/<uuid:customer_uuid>")
@allow("admin")
@errors(409)
@blp.doc(requestBody=_request_body(CustomerUpdateSchema, example=examples.UPDATE_REQUEST))
@blp.response(200, CustomerWithLinksEnvelope, example=examples.UPDATED)
def update_customer(customer_uuid):
    """Update a customer (admin)."""
    data = _body(CustomerUpdateSchema, "admin")
    customer = service.update_customer(customer_uuid, data, hook_context())
    return {"data": _with_links(customer)}


@blp.patch("/customers/<uuid:customer_uuid>/metafields")
@allow("admin")
@blp.doc(requestBody=_request_body(MetafieldsUpdateSchema))
@blp.response(200, MetafieldsEnvelope)
def update_metafields(customer_uuid):
    """Replace a customer's metafields (admin): the request EverShop's admin sends."""
    body = load(MetafieldsUpdateSchema(), read_json_body())
    # Checked here too, so that a refusal names the field the client sent.
    sent = metafields.validate(body["metafields"], fields().plugin_namespaces(), "metafields")
    data = {"meta_data": sent}
    customer = service.update_customer(customer_uuid, data, hook_context())
    return {"data": {"metaData": customer["meta_data"]}}


@blp.delete("/customers/<uuid:customer_uuid>")
@allow("admin")
@blp.response(200, CustomerEnvelope, example=examples.DELETED)
def delete_customer(customer_uuid):
    """Delete a customer with its addresses (admin)."""
    return {"data": service.delete_customer(customer_uuid, hook_context())}


@blp.post("/customer/tokens", tags=["tokens"])
@rate_limited("tokens")
@errors(401)
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairEnvelope)
def issue_customer_tokens(body):
    """Log a customer in: an access and a refresh token."""
    return {"data": service.login(body["email"], body["password"], hook_context())}


@blp.post("/customer/token/refresh", tags=["tokens"])
@rate_limited("tokens")
@errors(401)
@blp.arguments(RefreshSchema)
@blp.response(200, AccessTokenEnvelope)
def refresh_customer_token(body):
    """A new customer access token from a refresh token."""
    return {"data": service.refresh(body["refreshToken"])}


def _on_me_route(customer: dict) -> dict:
    """The customer as it reads itself: the links of what plugins nest in it
    (its ``addresses``) point at the ``/me`` routes, as EverShop's do."""
    own = f"/api/customers/{customer['uuid']}/"
    for items in customer.values():
        if not isinstance(items, list):
            continue
        for item in items:
            for link in item.get("links", []) if isinstance(item, dict) else []:
                if link.get("href", "").startswith(own):
                    link["href"] = "/api/customers/me/" + link["href"][len(own) :]
    return customer


def _me() -> uuid.UUID:
    return uuid.UUID(current_principal().account["uuid"])
