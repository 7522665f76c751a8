"""The webhook plugin's events, and the catalogue of events an endpoint may want."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app

from app.events import EventType
from app.fields import timestamp
from app.plugins import contributions, plugin_manager

PING = "webhook_ping"
EVERYTHING = "*"


class OriginalEventSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"format": "uuid"})
    name = ma.fields.String(required=True)
    # None for a ping: the delivery's own sequence is sent instead.
    sequence = ma.fields.Integer(required=True, allow_none=True)
    created_at = timestamp(required=True)
    payload = ma.fields.Dict(required=True)


class DeliveryRequestedSchema(ma.Schema):
    endpoint_uuid = ma.fields.String(required=True, metadata={"format": "uuid"})
    event = ma.fields.Nested(OriginalEventSchema, required=True)


class EndpointDisabledSchema(ma.Schema):
    uuid = ma.fields.String(required=True, metadata={"format": "uuid"})
    # scheme://host:port only: a URL's path or query may hold the receiver's token.
    origin = ma.fields.String(required=True)
    description = ma.fields.String(required=True, allow_none=True)
    failure_streak = ma.fields.Integer(required=True)
    failing_since = timestamp(required=True, allow_none=True)
    disabled_at = timestamp(required=True)
    disabled_reason = ma.fields.String(required=True)


WEBHOOK_DELIVERY_REQUESTED = EventType(
    "webhook_delivery_requested",
    "One event is due to one webhook endpoint (the plugin's own subscriber POSTs it, and the"
    " outbox retries that endpoint alone when it fails).",
    DeliveryRequestedSchema,
)
WEBHOOK_ENDPOINT_DISABLED = EventType(
    "webhook_endpoint_disabled",
    "A webhook endpoint was disabled after a run of failed deliveries"
    " (WEBHOOK_MAX_CONSECUTIVE_FAILURES, WEBHOOK_MIN_FAILING_SECONDS).",
    EndpointDisabledSchema,
)

EVENTS = [WEBHOOK_DELIVERY_REQUESTED, WEBHOOK_ENDPOINT_DISABLED]

# Events never sent to endpoints: the plugin's own plumbing.
INTERNAL = frozenset({WEBHOOK_DELIVERY_REQUESTED.name})


def subscribable() -> list[str]:
    """The names of the declared events an endpoint may ask for, in the order
    the plugins declare them. Read from ``register_events`` once per app."""
    cache = current_app.extensions.setdefault("webhook", {})
    if "events" not in cache:
        declared = contributions(plugin_manager(), "register_events")
        names = [event.name for types in declared.values() for event in types]
        cache["events"] = [name for name in dict.fromkeys(names) if name not in INTERNAL]
    return cache["events"]
