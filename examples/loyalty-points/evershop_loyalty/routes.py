"""The admin's route to change a customer's points by hand (a goodwill
gesture, a correction): ``POST /api/loyalty/customers/{uuid}/adjustments``."""

from __future__ import annotations

import marshmallow as ma
from app.plugin_api import Blueprint, allow

from evershop_loyalty import points

blp = Blueprint("loyalty", __name__, url_prefix="/api/loyalty", description="Loyalty points")


class AdjustmentSchema(ma.Schema):
    points = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=-1_000_000, max=1_000_000),
        metadata={"description": "points to add; negative to take them away"},
    )
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class BalanceSchema(ma.Schema):
    customer_uuid = ma.fields.UUID(required=True)
    loyalty_points = ma.fields.Integer(required=True)


class BalanceEnvelope(ma.Schema):
    data = ma.fields.Nested(BalanceSchema, required=True)


@blp.post("/customers/<uuid:customer_uuid>/adjustments")
@allow("admin")
@blp.arguments(AdjustmentSchema)
@blp.response(200, BalanceEnvelope)
def adjust(data, customer_uuid):
    """Add points to a customer's balance, or take them (never below 0)."""
    balance = points.change(customer_uuid, data["points"], data["reason"])
    return {"data": {"customer_uuid": customer_uuid, "loyalty_points": balance}}
