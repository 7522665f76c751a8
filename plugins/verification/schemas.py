"""Bodies and answers of the verification endpoints, and the customer fields."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import TrimmedEmail
from app.http import envelope


class VerifyEmailSchema(ma.Schema):
    # Never trimmed: tokens are never altered. One that was never issued is
    # "invalid or expired", whatever its shape.
    token = fields.String(required=True, validate=validate.Length(min=1))


class ResendSchema(ma.Schema):
    email = TrimmedEmail(required=True, validate=validate.Length(max=254))


class VerificationResultSchema(ma.Schema):
    success = fields.Boolean(required=True)


VerificationResultEnvelope = envelope(VerificationResultSchema, "VerificationResultEnvelope")
