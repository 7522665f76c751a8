"""The timeline plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

import marshmallow as ma

from app.events import EventType


class NoteAddedSchema(ma.Schema):
    customer_id = ma.fields.Integer(required=True)
    uuid = ma.fields.String(required=True, metadata={"format": "uuid"})
    entry_uuid = ma.fields.String(required=True, metadata={"format": "uuid"})


CUSTOMER_NOTE_ADDED = EventType(
    "customer_note_added",
    "An admin added a note to a customer's timeline (the note itself is not in the payload).",
    NoteAddedSchema,
)

EVENTS = [CUSTOMER_NOTE_ADDED]
