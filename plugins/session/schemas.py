"""Session payloads."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http import envelope
from plugins.customer.schemas import CustomerSchema


class RevokeQuerySchema(ma.Schema):
    """Query parameters of ``POST /api/customer/tokens/revoke``."""

    all = fields.Boolean(
        truthy={"true", "1"},
        falsy={"false", "0"},
        load_default=False,
        metadata={"description": "true: revoke every session of the customer, not only this one."},
    )


class RevokedSchema(ma.Schema):
    revoked = fields.String(
        required=True,
        validate=validate.OneOf(["session", "all"]),
        metadata={"description": "`session`: the token's session; `all`: every session."},
    )


class SessionsRevokedSchema(ma.Schema):
    """The payload of ``customer_sessions_revoked``."""

    customer = fields.Nested(CustomerSchema, required=True)
    all_sessions = fields.Boolean(required=True)
    revoked_by = fields.String(required=True, validate=validate.OneOf(["customer", "admin"]))


RevokedEnvelope = envelope(RevokedSchema, "RevokedEnvelope")
