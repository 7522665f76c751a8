"""Bodies of the reset-password endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import TrimmedEmail
from app.http import envelope


class ResetRequestSchema(ma.Schema):
    email = TrimmedEmail(required=True, validate=validate.Length(max=254))


class PasswordUpdateSchema(ma.Schema):
    # Neither is trimmed: tokens and passwords are never altered. A token of
    # any length is checked by the service: one that was never issued is
    # "invalid or expired", whatever its shape.
    token = fields.String(required=True, validate=validate.Length(min=1))
    password = fields.String(required=True)


class SuccessSchema(ma.Schema):
    success = fields.Boolean(required=True)


SuccessEnvelope = envelope(SuccessSchema, "SuccessEnvelope")
