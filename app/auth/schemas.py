"""Request bodies of the token endpoints, shared by admin and customer tokens."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class LoginSchema(ma.Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1))


class RefreshSchema(ma.Schema):
    refreshToken = fields.String(required=True, validate=validate.Length(min=1))


class TokenPairSchema(ma.Schema):
    accessToken = fields.String(required=True)
    refreshToken = fields.String(required=True)


class AccessTokenSchema(ma.Schema):
    accessToken = fields.String(required=True)


class TokenPairEnvelope(ma.Schema):
    data = fields.Nested(TokenPairSchema, required=True)


class AccessTokenEnvelope(ma.Schema):
    data = fields.Nested(AccessTokenSchema, required=True)
