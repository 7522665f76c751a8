"""Address payloads."""

from __future__ import annotations

import marshmallow as ma
import pycountry
from marshmallow import fields, validate

from app.fields import FlexibleBoolean, Trimmed, timestamp
from app.http import ExtensibleSchema, envelope
from plugins.customer.schemas import LinkSchema

# Longest value accepted per field (the columns are varchar(255)).
MAX_LENGTH = {
    "full_name": 255,
    "telephone": 32,
    "address_1": 255,
    "address_2": 255,
    "city": 255,
    "province": 255,
    "country": 2,
    "postcode": 32,
}
REQUIRED = ("full_name", "address_1", "city", "country")


class CountryCode(Trimmed):
    """An ISO 3166-1 alpha-2 code, any case in, upper case out."""

    default_error_messages = {"country": 'Must be an ISO 3166-1 alpha-2 country code, e.g. "US".'}

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise self.make_error("country")
        return code


def _required(name: str, create: bool) -> fields.Field:
    kind = CountryCode if name == "country" else Trimmed
    return kind(required=create, validate=validate.Length(min=1, max=MAX_LENGTH[name]))


def _optional(name: str) -> fields.Field:
    return Trimmed(allow_none=True, validate=validate.Length(max=MAX_LENGTH[name]))


class _AddressInput(ma.Schema):
    telephone = _optional("telephone")
    address_2 = _optional("address_2")
    province = _optional("province")
    postcode = _optional("postcode")
    is_default = FlexibleBoolean()

    @ma.post_load
    def _empty_is_null(self, data, **kwargs):
        # An optional field sent empty is stored as null, as EverShop leaves it.
        return {name: (None if value == "" else value) for name, value in data.items()}


class AddressCreateSchema(_AddressInput):
    """A new address: the required fields must be present and non-empty."""

    full_name = _required("full_name", create=True)
    address_1 = _required("address_1", create=True)
    city = _required("city", create=True)
    country = _required("country", create=True)


class AddressUpdateSchema(_AddressInput):
    """A partial change: a required field, when sent, must stay non-empty."""

    full_name = _required("full_name", create=False)
    address_1 = _required("address_1", create=False)
    city = _required("city", create=False)
    country = _required("country", create=False)


class AddressSchema(ExtensibleSchema):
    """An address as the API shows it, with its links; plugins may add properties."""

    customer_address_id = fields.Integer(required=True)
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    customer_id = fields.Integer(required=True)
    full_name = fields.String(required=True, allow_none=True)
    telephone = fields.String(required=True, allow_none=True)
    address_1 = fields.String(required=True, allow_none=True)
    address_2 = fields.String(required=True, allow_none=True)
    city = fields.String(required=True, allow_none=True)
    province = fields.String(required=True, allow_none=True)
    country = fields.String(required=True)
    postcode = fields.String(required=True, allow_none=True)
    is_default = fields.Boolean(required=True)
    created_at = timestamp(required=True)
    updated_at = timestamp(required=True)
    links = fields.List(fields.Nested(LinkSchema), required=True)


AddressEnvelope = envelope(AddressSchema, "AddressEnvelope")
AddressListEnvelope = ma.Schema.from_dict(
    {"data": fields.List(fields.Nested(AddressSchema), required=True)},
    name="AddressListEnvelope",
)
