"""Timeline endpoints (docs/api.md, "Timeline")."""

from __future__ import annotations

import marshmallow as ma

from app.auth.guards import allow
from app.http import Blueprint
from app.openapi import location_header
from plugins.timeline import service
from plugins.timeline.schemas import (
    NoteSchema,
    TimelineEntryEnvelope,
    TimelinePageEnvelope,
    TimelineQuerySchema,
)

blp = Blueprint("timeline", __name__, url_prefix="/api/customers", description="Timeline")


@blp.get("/<uuid:customer_uuid>/timeline")
@allow("admin")
@blp.arguments(TimelineQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, TimelinePageEnvelope)
def read_timeline(query, customer_uuid):
    """What happened to a customer's account, newest first (admin)."""
    return {"data": service.page(customer_uuid, query["page"], query["limit"])}


@blp.post("/<uuid:customer_uuid>/timeline")
@allow("admin")
@blp.arguments(NoteSchema, example={"note": "Called about a late delivery."})
@blp.response(201, TimelineEntryEnvelope, headers=location_header("The customer's timeline."))
def add_note(body, customer_uuid):
    """Add an admin's note to a customer's timeline (admin)."""
    entry = service.add_note(customer_uuid, body["note"])
    return {"data": entry}, 201, {"Location": f"/api/customers/{customer_uuid}/timeline"}
