"""Webhook payloads: what an admin may send, and what it gets back."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import FlexibleBoolean, LenientInteger, Trimmed, timestamp
from app.http import envelope
from plugins.webhook.addresses import MAX_URL_LENGTH

EVENT_NAME_MAX = 100
DESCRIPTION_MAX = 255

_URL = {"description": "An absolute https URL (http with WEBHOOK_ALLOW_HTTP=true)."}
_EVENTS = {
    "description": 'Event names to receive (docs/api.md, "Events"), or ["*"] for every event.',
    "example": ["customer_registered", "customer_updated"],
}


def _events(**kwargs):
    return fields.List(
        Trimmed(validate=validate.Length(min=1, max=EVENT_NAME_MAX)),
        validate=validate.Length(min=1, max=100),
        metadata=_EVENTS,
        **kwargs,
    )


def _url(**kwargs):
    return Trimmed(validate=validate.Length(min=1, max=MAX_URL_LENGTH), metadata=_URL, **kwargs)


def _description(**kwargs):
    return Trimmed(validate=validate.Length(max=DESCRIPTION_MAX), allow_none=True, **kwargs)


class EndpointCreateSchema(ma.Schema):
    url = _url(required=True)
    events = _events(required=True)
    description = _description()
    enabled = FlexibleBoolean()


class EndpointUpdateSchema(ma.Schema):
    url = _url()
    events = _events()
    description = _description()
    enabled = FlexibleBoolean(
        metadata={"description": "false disables; true enables and clears the failure streak."}
    )


class PageQuerySchema(ma.Schema):
    page = LenientInteger(validate=validate.Range(min=1), load_default=1)
    limit = LenientInteger(validate=validate.Range(min=1, max=100), load_default=20)


# --- responses (they also document the API) -------------------------------------


class EndpointSchema(ma.Schema):
    """A webhook endpoint; its secret is never shown again after it is made."""

    uuid = fields.String(required=True, metadata={"format": "uuid"})
    url = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    events = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    failure_streak = fields.Integer(
        required=True, metadata={"description": "Failed attempts in a row, across deliveries."}
    )
    failing_since = timestamp(required=True, allow_none=True)
    disabled_at = timestamp(required=True, allow_none=True)
    disabled_reason = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)
    updated_at = timestamp(required=True)


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(
        required=True,
        metadata={
            "description": "The signing secret: shown in this answer only (docs/webhooks.md)."
        },
    )


class EndpointPageSchema(ma.Schema):
    items = fields.List(fields.Nested(EndpointSchema), required=True)
    total = fields.Integer(required=True)
    currentPage = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class DeliverySchema(ma.Schema):
    """One attempt to deliver one event to the endpoint."""

    id = fields.Integer(required=True)
    event_id = fields.String(
        required=True, metadata={"format": "uuid", "description": "The X-Webhook-Id sent."}
    )
    event_name = fields.String(required=True)
    sequence = fields.Integer(required=True, allow_none=True)
    attempt = fields.Integer(required=True)
    success = fields.Boolean(required=True)
    status = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The receiver's HTTP status."}
    )
    duration_ms = fields.Integer(required=True)
    error = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)


class DeliveryPageSchema(ma.Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
    total = fields.Integer(required=True)
    currentPage = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class PingSchema(ma.Schema):
    event_id = fields.String(required=True, metadata={"format": "uuid"})
    event_name = fields.String(required=True, metadata={"example": "webhook_ping"})
    endpoint_uuid = fields.String(required=True, metadata={"format": "uuid"})


EndpointEnvelope = envelope(EndpointSchema, "WebhookEndpointEnvelope")
EndpointWithSecretEnvelope = envelope(EndpointWithSecretSchema, "WebhookEndpointWithSecretEnvelope")
EndpointPageEnvelope = envelope(EndpointPageSchema, "WebhookEndpointPageEnvelope")
DeliveryPageEnvelope = envelope(DeliveryPageSchema, "WebhookDeliveryPageEnvelope")
PingEnvelope = envelope(PingSchema, "WebhookPingEnvelope")
