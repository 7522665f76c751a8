"""Customer-group endpoints (docs/api.md, "Customer groups"), for admins only:
parse, call the service, serialise."""

from __future__ import annotations

import marshmallow as ma

from app.auth.guards import allow, hook_context
from app.errors import ValidationError
from app.http import Blueprint, load, read_json_body
from app.openapi import errors, location_header
from plugins.group import examples, service
from plugins.group.schemas import (
    AssignResultEnvelope,
    AssignSchema,
    CustomerGroupEnvelope,
    DeletedGroupEnvelope,
    GroupCreateSchema,
    GroupListQuerySchema,
    GroupPageEnvelope,
    GroupUpdateSchema,
    MoveToSchema,
)

blp = Blueprint(
    "customer_groups", __name__, url_prefix="/api/customer-groups", description="Customer groups"
)

ONE = "/<uuid:group_uuid>"


@blp.get("")
@allow("admin")
@blp.arguments(GroupListQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, GroupPageEnvelope)
def list_groups(filters):
    """List customer groups with their customer counts."""
    return {"data": service.list_groups(filters)}


@blp.post("")
@allow("admin")
@errors(409)
@blp.arguments(GroupCreateSchema, example=examples.CREATE_REQUEST)
@blp.response(
    201,
    CustomerGroupEnvelope,
    example=examples.CREATED,
    headers=location_header("/api/customer-groups/<uuid>"),
)
def create_group(body):
    """Create a customer group."""
    group = service.create_group(body, hook_context())
    return {"data": group}, 201, {"Location": f"/api/customer-groups/{group['uuid']}"}


@blp.get(ONE)
@allow("admin")
@blp.response(200, CustomerGroupEnvelope)
def read_group(group_uuid):
    """One customer group with its customer count."""
    return {"data": service.get_group(group_uuid)}


@blp.patch(ONE)
@allow("admin")
@errors(409)
@blp.arguments(GroupUpdateSchema, example=examples.UPDATE_REQUEST)
@blp.response(200, CustomerGroupEnvelope)
def update_group(body, group_uuid):
    """Rename a customer group (the default group included)."""
    return {"data": service.update_group(group_uuid, body, hook_context())}


@blp.delete(ONE)
@allow("admin")
@errors(409)
@blp.arguments(MoveToSchema, location="query", unknown=ma.RAISE, as_kwargs=True)
@blp.doc(
    requestBody={
        "required": False,
        "content": {"application/json": {"schema": MoveToSchema, "example": examples.MOVE_TO}},
    }
)
@blp.response(200, DeletedGroupEnvelope)
def delete_group(group_uuid, move_to=None):
    """Delete a customer group; its customers, if any, move to ``move_to``."""
    body = load(MoveToSchema(), read_json_body())
    if "move_to" in body and move_to is not None and body["move_to"] != move_to:
        raise ValidationError.for_field(
            "move_to", "Sent in the body and the query with different values."
        )
    target = body.get("move_to", move_to)
    return {"data": service.delete_group(group_uuid, target, hook_context())}


@blp.post(f"{ONE}/customers")
@allow("admin")
@blp.arguments(AssignSchema, example=examples.ASSIGN_REQUEST)
@blp.response(200, AssignResultEnvelope)
def assign_customers(body, group_uuid):
    """Assign up to 1,000 customers to the group: all of them or none."""
    return {"data": service.assign_customers(group_uuid, body["customers"], hook_context())}
