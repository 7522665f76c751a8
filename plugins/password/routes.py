"""Reset-password endpoints (CONTRACT §5)."""

from __future__ import annotations

from app.auth.guards import hook_context
from app.http import Blueprint
from plugins.password import service
from plugins.password.schemas import PasswordUpdateSchema, ResetRequestSchema, SuccessEnvelope

blp = Blueprint("passwords", __name__, url_prefix="/api/customers", description="Password reset")


@blp.post("/reset-password")
@blp.arguments(ResetRequestSchema)
@blp.response(200, SuccessEnvelope)
def request_reset(body):
    """Email a reset link; the same answer whether or not the account exists."""
    service.request_reset(body["email"])
    return {"data": {"success": True}}


@blp.post("/password")
@blp.arguments(PasswordUpdateSchema)
@blp.response(200, SuccessEnvelope)
def update_password(body):
    """Set a new password with a reset token."""
    service.update_password(body["token"], body["password"], hook_context())
    return {"data": {"success": True}}
