"""Customer-group payloads: what a client may send, and what it gets back."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import LenientInteger, Trimmed, UuidText, timestamp
from app.http import envelope

NAME_MAX = 255
# The most customers one request may assign or move (docs/api.md, "Customer groups").
MAX_CUSTOMERS = 1000


def _name(**kwargs):
    return Trimmed(validate=validate.Length(min=1, max=NAME_MAX), **kwargs)


class GroupCreateSchema(ma.Schema):
    group_name = _name(required=True, metadata={"example": "Wholesale"})


class GroupUpdateSchema(ma.Schema):
    group_name = _name(metadata={"example": "Trade"})


class GroupListQuerySchema(ma.Schema):
    """Query parameters of ``GET /api/customer-groups``."""

    name = Trimmed(validate=validate.Length(max=NAME_MAX))
    ob = fields.String(validate=validate.OneOf(["name", "created_at"]))
    od = fields.String(validate=validate.OneOf(["asc", "desc"]))
    page = LenientInteger(validate=validate.Range(min=1), load_default=1)
    limit = LenientInteger(validate=validate.Range(min=1, max=100), load_default=20)


class MoveToSchema(ma.Schema):
    """Where a deleted group's customers go: in the body or the query."""

    move_to = UuidText(
        metadata={"description": "The uuid of the group the deleted group's customers move to."}
    )


class AssignSchema(ma.Schema):
    customers = fields.List(
        UuidText(),
        required=True,
        validate=validate.Length(min=1, max=MAX_CUSTOMERS),
        metadata={
            "description": f"Uuids of customers (1 to {MAX_CUSTOMERS:,}); all are assigned or none."
        },
    )


# --- responses ------------------------------------------------------------------------


class CustomerGroupSchema(ma.Schema):
    """A customer group as the API shows it."""

    customer_group_id = fields.Integer(required=True)
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    group_name = fields.String(required=True)
    created_at = timestamp(required=True, allow_none=True)
    updated_at = timestamp(required=True, allow_none=True)
    customer_count = fields.Integer(
        required=True, metadata={"description": "How many customers belong to the group."}
    )


class DeletedGroupSchema(CustomerGroupSchema):
    """A deleted group as it was, and where its customers went."""

    moved_to = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "uuid", "description": "The group its customers moved to, if any."},
    )


class GroupPageSchema(ma.Schema):
    items = fields.List(fields.Nested(CustomerGroupSchema), required=True)
    total = fields.Integer(required=True)
    currentPage = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class AssignResultSchema(ma.Schema):
    group = fields.Nested(CustomerGroupSchema, required=True)
    assigned = fields.Integer(
        required=True, metadata={"description": "Customers moved into the group."}
    )
    unchanged = fields.Integer(
        required=True, metadata={"description": "Customers named that were in it already."}
    )


CustomerGroupEnvelope = envelope(CustomerGroupSchema, "CustomerGroupEnvelope")
DeletedGroupEnvelope = envelope(DeletedGroupSchema, "DeletedGroupEnvelope")
GroupPageEnvelope = envelope(GroupPageSchema, "CustomerGroupPageEnvelope")
AssignResultEnvelope = envelope(AssignResultSchema, "CustomerGroupAssignEnvelope")
