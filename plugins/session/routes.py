"""Session endpoints (docs/api.md, "Sessions"): a customer logs out, of its
token's session or of all of them; an admin logs a customer out everywhere."""

from __future__ import annotations

import uuid

import marshmallow as ma

from app.auth.guards import allow, current_principal, hook_context
from app.http import Blueprint
from plugins.session import service
from plugins.session.schemas import RevokedEnvelope, RevokeQuerySchema

blp = Blueprint("sessions", __name__, url_prefix="/api", description="Sessions")


@blp.post("/customer/tokens/revoke", tags=["tokens"])
@allow("customer")
@blp.arguments(RevokeQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, RevokedEnvelope, example={"data": {"revoked": "session"}})
def revoke_my_sessions(args):
    """Log the customer of the token out: of this token's session, or of
    every session with ``?all=true``."""
    principal = current_principal()
    if args["all"]:
        service.revoke_all(uuid.UUID(principal.account["uuid"]), hook_context())
        return {"data": {"revoked": "all"}}
    service.revoke_session(principal.claims, hook_context())
    return {"data": {"revoked": "session"}}


@blp.post("/customers/<uuid:customer_uuid>/sessions/revoke")
@allow("admin")
@blp.response(200, RevokedEnvelope, example={"data": {"revoked": "all"}})
def revoke_customer_sessions(customer_uuid):
    """Log a customer out of every session (admin)."""
    service.revoke_all(customer_uuid, hook_context())
    return {"data": {"revoked": "all"}}
