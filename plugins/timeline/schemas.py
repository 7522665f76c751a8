"""Bodies and answers of the timeline endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import LenientInteger, Trimmed, timestamp
from app.http import envelope

NOTE_MAX = 2000


class TimelineQuerySchema(ma.Schema):
    page = LenientInteger(validate=validate.Range(min=1), load_default=1)
    limit = LenientInteger(validate=validate.Range(min=1, max=100), load_default=20)


class NoteSchema(ma.Schema):
    note = Trimmed(
        required=True,
        validate=validate.Length(min=1, max=NOTE_MAX),
        metadata={"description": "Kept as written and shown to admins: never put a secret in it."},
    )


class TimelineEntrySchema(ma.Schema):
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    event = fields.String(required=True, metadata={"example": "customer_updated"})
    actor_type = fields.String(
        required=True, validate=validate.OneOf(["admin", "customer", "plugin", "system"])
    )
    actor_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The admin user's or the customer's id, or the plugin's name."},
    )
    details = fields.Dict(
        required=True,
        metadata={"description": "Never personal data: e.g. the fields an update changed."},
    )
    note = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)


class TimelinePageSchema(ma.Schema):
    items = fields.List(fields.Nested(TimelineEntrySchema), required=True)
    total = fields.Integer(required=True)
    currentPage = fields.Integer(required=True)
    limit = fields.Integer(required=True)


TimelineEntryEnvelope = envelope(TimelineEntrySchema, "TimelineEntryEnvelope")
TimelinePageEnvelope = envelope(TimelinePageSchema, "TimelinePageEnvelope")
