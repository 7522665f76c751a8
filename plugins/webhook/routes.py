"""Webhook endpoints (docs/api.md, "Webhooks"): admin tokens only; parse, call
the service, serialise."""

from __future__ import annotations

import marshmallow as ma

from app.auth.guards import allow
from app.http import Blueprint
from app.openapi import errors, location_header
from plugins.webhook import service
from plugins.webhook.schemas import (
    DeliveryPageEnvelope,
    EndpointCreateSchema,
    EndpointEnvelope,
    EndpointPageEnvelope,
    EndpointUpdateSchema,
    EndpointWithSecretEnvelope,
    PageQuerySchema,
    PingEnvelope,
)

blp = Blueprint("webhooks", __name__, url_prefix="/api", description="Webhooks")


@blp.post("/webhooks")
@allow("admin")
@blp.arguments(EndpointCreateSchema)
@blp.response(201, EndpointWithSecretEnvelope, headers=location_header("/api/webhooks/<uuid>"))
def create_endpoint(data):
    """Register an endpoint; the answer shows its signing secret, once."""
    endpoint = service.create_endpoint(data)
    return {"data": endpoint}, 201, {"Location": f"/api/webhooks/{endpoint['uuid']}"}


@blp.get("/webhooks")
@allow("admin")
@blp.arguments(PageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, EndpointPageEnvelope)
def list_endpoints(query):
    """List endpoints, oldest first, paginated."""
    return {"data": service.list_endpoints(query["page"], query["limit"])}


@blp.get("/webhooks/<uuid:endpoint_uuid>")
@allow("admin")
@blp.response(200, EndpointEnvelope)
def read_endpoint(endpoint_uuid):
    """One endpoint (without its secret)."""
    return {"data": service.get_endpoint(endpoint_uuid)}


@blp.patch("/webhooks/<uuid:endpoint_uuid>")
@allow("admin")
@blp.arguments(EndpointUpdateSchema)
@blp.response(200, EndpointEnvelope)
def update_endpoint(data, endpoint_uuid):
    """Change an endpoint's URL, events, description, or enable or disable it."""
    return {"data": service.update_endpoint(endpoint_uuid, data)}


@blp.delete("/webhooks/<uuid:endpoint_uuid>")
@allow("admin")
@blp.response(200, EndpointEnvelope)
def delete_endpoint(endpoint_uuid):
    """Delete an endpoint and its delivery log."""
    return {"data": service.delete_endpoint(endpoint_uuid)}


@blp.post("/webhooks/<uuid:endpoint_uuid>/secret")
@allow("admin")
@blp.response(200, EndpointWithSecretEnvelope)
def rotate_secret(endpoint_uuid):
    """Replace the endpoint's signing secret; the answer shows the new one, once."""
    return {"data": service.rotate_secret(endpoint_uuid)}


@blp.post("/webhooks/<uuid:endpoint_uuid>/ping")
@allow("admin")
@errors(409)
@blp.response(202, PingEnvelope)
def ping_endpoint(endpoint_uuid):
    """Send the endpoint a webhook_ping event through the delivery path."""
    return {"data": service.ping(endpoint_uuid)}, 202


@blp.get("/webhooks/<uuid:endpoint_uuid>/deliveries")
@allow("admin")
@blp.arguments(PageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, DeliveryPageEnvelope)
def list_deliveries(query, endpoint_uuid):
    """The endpoint's delivery log, newest first, paginated."""
    return {"data": service.list_deliveries(endpoint_uuid, query["page"], query["limit"])}
