"""Email verification endpoints (docs/api.md, "Email verification")."""

from __future__ import annotations

from app.auth.guards import hook_context
from app.http import Blueprint
from app.openapi import errors
from app.ratelimit import rate_limited
from plugins.verification import service
from plugins.verification.schemas import ResendSchema, VerificationResultEnvelope, VerifyEmailSchema

blp = Blueprint(
    "verification", __name__, url_prefix="/api/customers", description="Email verification"
)

SUCCESS = {"data": {"success": True}}


@blp.post("/verify-email")
# A bad Authorization header is a 401 here too; 409: another account took the new address.
@errors(401, 409)
@blp.arguments(VerifyEmailSchema, example={"token": "hT4q0m1Zc8u1Qy2WkKx7n3VbEo9pJd5sLr6aGf0tYiU"})
@blp.response(200, VerificationResultEnvelope, example=SUCCESS)
def verify_email(body):
    """Confirm an email address with the token of a verification or email-change link."""
    service.verify(body["token"], hook_context())
    return SUCCESS


@blp.post("/verify-email/resend")
@rate_limited("verify_email")
@errors(401)
@blp.arguments(ResendSchema, example={"email": "john.smith@example.com"})
@blp.response(200, VerificationResultEnvelope, example=SUCCESS)
def resend_verification(body):
    """Email a new verification link; the same answer whether or not the account exists."""
    service.request_link(body["email"], hook_context())
    return SUCCESS
