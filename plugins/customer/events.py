"""The customer plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

from app.events import EventType
from plugins.customer.schemas import CustomerSchema

CUSTOMER_REGISTERED = EventType(
    "customer_registered",
    "An active customer was created (by an admin or a sign-up).",
    CustomerSchema,
)
ACCOUNT_CREATED = EventType(
    "account_created", "A disabled customer (status 0) was created by an admin.", CustomerSchema
)
CUSTOMER_UPDATED = EventType(
    "customer_updated", "A customer changed (its password included).", CustomerSchema
)
CUSTOMER_DELETED = EventType(
    "customer_deleted",
    "A customer was deleted, with its addresses; the payload is as it was.",
    CustomerSchema,
)
CUSTOMER_PASSWORD_CHANGED = EventType(
    "customer_password_changed",
    "A customer's password changed, by an admin or through a reset link (with customer_updated).",
    CustomerSchema,
)

EVENTS = [
    CUSTOMER_REGISTERED,
    ACCOUNT_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_PASSWORD_CHANGED,
    CUSTOMER_DELETED,
]
