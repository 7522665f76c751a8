"""Bodies and answers of the privacy endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import timestamp
from app.http import ExtensibleSchema, envelope
from plugins.customer.schemas import CustomerSchema


class ConfirmErasureSchema(ma.Schema):
    # Never trimmed: tokens are never altered.
    token = fields.String(required=True, validate=validate.Length(min=1))


class PrivacyResultSchema(ma.Schema):
    success = fields.Boolean(required=True)


class ErasureSchema(ma.Schema):
    """What an erasure did; no personal data."""

    customer_id = fields.Integer(required=True)
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    mode = fields.String(required=True, validate=validate.OneOf(["anonymise", "delete"]))
    erased_at = timestamp(required=True)


class ExportGroupSchema(ma.Schema):
    customer_group_id = fields.Integer(required=True)
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    group_name = fields.String(required=True)


class ExportSchema(ExtensibleSchema):
    """Everything the service holds about a customer. Besides these, each
    plugin adds its sections (``addresses``, ``email_verification``,
    ``timeline``...: docs/api.md, "Data export")."""

    exported_at = timestamp(required=True)
    customer = fields.Nested(CustomerSchema, required=True)
    group = fields.Nested(ExportGroupSchema, required=True, allow_none=True)
    meta_data = fields.Dict(required=True)


PrivacyResultEnvelope = envelope(PrivacyResultSchema, "PrivacyResultEnvelope")
ErasureEnvelope = envelope(ErasureSchema, "ErasureEnvelope")
ExportEnvelope = envelope(ExportSchema, "ExportEnvelope")
