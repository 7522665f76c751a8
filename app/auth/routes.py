"""Admin token endpoints (docs/api.md, "Authentication")."""

from __future__ import annotations

from app.auth import service
from app.auth.schemas import AccessTokenEnvelope, LoginSchema, RefreshSchema, TokenPairEnvelope
from app.http import Blueprint
from app.openapi import errors
from app.ratelimit import rate_limited

blp = Blueprint("admin_tokens", __name__, url_prefix="/api/user", description="Admin tokens")


@blp.post("/tokens", tags=["tokens"])
@rate_limited("tokens")
@errors(401)
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairEnvelope)
def issue_admin_tokens(body):
    """Log an admin user in: an access and a refresh token."""
    return {"data": service.login(body["email"], body["password"])}


@blp.post("/token/refresh", tags=["tokens"])
@rate_limited("tokens")
@errors(401)
@blp.arguments(RefreshSchema)
@blp.response(200, AccessTokenEnvelope)
def refresh_admin_token(body):
    """A new admin access token from a refresh token."""
    return {"data": service.refresh(body["refreshToken"])}
