"""Export and erasure endpoints (docs/api.md, "Data export" and "Erasure")."""

from __future__ import annotations

import uuid

from app.auth.guards import allow, current_principal, hook_context
from app.http import Blueprint
from app.openapi import errors
from plugins.privacy import service
from plugins.privacy.schemas import (
    ConfirmErasureSchema,
    ErasureEnvelope,
    ExportEnvelope,
    PrivacyResultEnvelope,
)

blp = Blueprint("privacy", __name__, url_prefix="/api/customers", description="Privacy")

SUCCESS = {"data": {"success": True}}


@blp.get("/<uuid:customer_uuid>/export")
@allow("admin", "owner", refusal="A customer may only export its own account.")
@blp.response(200, ExportEnvelope)
def export_customer(customer_uuid):
    """Everything the service holds about a customer, as one document (admin, or that customer)."""
    return {"data": service.export_customer(customer_uuid)}


@blp.post("/<uuid:customer_uuid>/erase")
@allow("admin")
@errors(409)
@blp.response(200, ErasureEnvelope)
def erase_customer(customer_uuid):
    """Erase a customer now, as CUSTOMER_ERASURE says (admin)."""
    return {"data": service.erase_customer(customer_uuid, hook_context())}


@blp.post("/me/delete-request")
@allow("customer")
@blp.response(200, PrivacyResultEnvelope, example=SUCCESS)
def request_erasure():
    """The customer of the token asks to erase its account: a link to confirm it is emailed."""
    customer_uuid = uuid.UUID(current_principal().account["uuid"])
    service.request_erasure(customer_uuid, hook_context())
    return SUCCESS


@blp.post("/delete-confirm")
# A bad Authorization header is a 401 here too; a customer_before_erase veto a 403 or 409.
@errors(401, 403, 409)
@blp.arguments(
    ConfirmErasureSchema, example={"token": "hT4q0m1Zc8u1Qy2WkKx7n3VbEo9pJd5sLr6aGf0tYiU"}
)
@blp.response(200, PrivacyResultEnvelope, example=SUCCESS)
def confirm_erasure(body):
    """Erase the account of a confirmation link."""
    service.confirm_erasure(body["token"], hook_context())
    return SUCCESS
