"""The verification plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

import marshmallow as ma

from app.events import EventType
from plugins.customer.schemas import CustomerSchema


class EmailSchema(ma.Schema):
    email = ma.fields.String(required=True)


class EmailChangedSchema(CustomerSchema):
    previous_email = ma.fields.String(required=True)


EMAIL_VERIFICATION_SUBMITTED = EventType(
    "email_verification_submitted",
    "Someone asked for a new verification link for an email, known or not (the plugin's own"
    " subscriber decides whether to send one).",
    EmailSchema,
)
CUSTOMER_EMAIL_VERIFICATION_REQUESTED = EventType(
    "customer_email_verification_requested",
    "A visitor signed up: its address gets a verification link (the payload is the customer).",
    CustomerSchema,
)
CUSTOMER_EMAIL_CHANGE_REQUESTED = EventType(
    "customer_email_change_requested",
    "A customer asked to change its email; the new address (pending_email) gets a link, and"
    " the change applies once it is opened.",
    CustomerSchema,
)
CUSTOMER_EMAIL_VERIFIED = EventType(
    "customer_email_verified",
    "A customer's email was confirmed through a link, or an admin marked it verified.",
    CustomerSchema,
)
CUSTOMER_EMAIL_CHANGED = EventType(
    "customer_email_changed",
    "A customer confirmed its new email, which is now its email; previous_email is told.",
    EmailChangedSchema,
)

EVENTS = [
    EMAIL_VERIFICATION_SUBMITTED,
    CUSTOMER_EMAIL_VERIFICATION_REQUESTED,
    CUSTOMER_EMAIL_CHANGE_REQUESTED,
    CUSTOMER_EMAIL_VERIFIED,
    CUSTOMER_EMAIL_CHANGED,
]
