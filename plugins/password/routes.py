"""Reset-password endpoints (docs/api.md, "Password reset")."""

from __future__ import annotations

from app.auth.guards import hook_context
from app.http import Blueprint
from app.openapi import errors
from app.ratelimit import rate_limited
from plugins.password import examples, service
from plugins.password.schemas import PasswordUpdateSchema, ResetRequestSchema, SuccessEnvelope

blp = Blueprint("passwords", __name__, url_prefix="/api/customers", description="Password reset")


@blp.post("/reset-password")
@rate_limited("reset")
@blp.arguments(ResetRequestSchema, example=examples.RESET_REQUEST)
@blp.response(200, SuccessEnvelope, example=examples.SUCCESS)
def request_reset(body):
    """Email a reset link; the same answer whether or not the account exists."""
    service.request_reset(body["email"], hook_context())
    return {"data": {"success": True}}


@blp.post("/password")
# A bad Authorization header is a 401 here too; a password_before_update veto is a 403.
@errors(401, 403)
@blp.arguments(PasswordUpdateSchema, example=examples.UPDATE_REQUEST)
@blp.response(200, SuccessEnvelope, example=examples.SUCCESS)
def update_password(body):
    """Set a new password with a reset token."""
    service.update_password(body["token"], body["password"], hook_context())
    return {"data": {"success": True}}
