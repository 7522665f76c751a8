"""The group plugin's events (docs/plugins.md, "Events"). A customer moved
from one group to another is an update of that customer: ``customer_updated``
is emitted for each, by the customer plugin."""

from __future__ import annotations

from app.events import EventType
from plugins.group.schemas import CustomerGroupSchema, DeletedGroupSchema

CUSTOMER_GROUP_CREATED = EventType(
    "customer_group_created", "A customer group was created.", CustomerGroupSchema
)
CUSTOMER_GROUP_UPDATED = EventType(
    "customer_group_updated", "A customer group was renamed.", CustomerGroupSchema
)
CUSTOMER_GROUP_DELETED = EventType(
    "customer_group_deleted",
    "A customer group was deleted, after its customers were moved to moved_to (if any);"
    " the payload is the group as it was.",
    DeletedGroupSchema,
)

EVENTS = [CUSTOMER_GROUP_CREATED, CUSTOMER_GROUP_UPDATED, CUSTOMER_GROUP_DELETED]
