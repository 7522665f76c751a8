"""The privacy plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

import marshmallow as ma

from app.events import EventType
from app.fields import timestamp
from plugins.customer.schemas import CustomerSchema


class CustomerRefSchema(ma.Schema):
    customer_id = ma.fields.Integer(required=True)
    uuid = ma.fields.String(required=True, metadata={"format": "uuid"})


class ErasedSchema(CustomerRefSchema):
    mode = ma.fields.String(required=True, validate=ma.validate.OneOf(["anonymise", "delete"]))
    erased_at = timestamp(required=True)


CUSTOMER_EXPORTED = EventType(
    "customer_exported",
    "Everything the service holds about a customer was exported (by an admin, the customer,"
    " or the command line).",
    CustomerRefSchema,
)
CUSTOMER_ERASURE_REQUESTED = EventType(
    "customer_erasure_requested",
    "A customer asked to erase its account; it gets a link to confirm (the payload is the"
    " customer).",
    CustomerSchema,
)
CUSTOMER_ERASED = EventType(
    "customer_erased",
    "A customer was erased (anonymised or deleted, as mode says); remove what you keep about"
    " it. The payload holds no personal data.",
    ErasedSchema,
)

EVENTS = [CUSTOMER_EXPORTED, CUSTOMER_ERASURE_REQUESTED, CUSTOMER_ERASED]
