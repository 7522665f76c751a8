"""The password plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

import marshmallow as ma

from app.events import EventType
from plugins.customer.schemas import CustomerSchema


class ResetSubmittedSchema(ma.Schema):
    email = ma.fields.String(required=True)


RESET_PASSWORD_SUBMITTED = EventType(
    "reset_password_submitted",
    "Someone asked for a reset link for an email, known or not (the plugin's own subscriber"
    " decides whether to send one).",
    ResetSubmittedSchema,
)
RESET_PASSWORD_REQUESTED = EventType(
    "reset_password_requested",
    "A reset link was emailed to an active customer (the payload is the customer).",
    CustomerSchema,
)
PASSWORD_UPDATED = EventType(
    "password_updated", "A customer set a new password with a reset token.", CustomerSchema
)

EVENTS = [RESET_PASSWORD_SUBMITTED, RESET_PASSWORD_REQUESTED, PASSWORD_UPDATED]
