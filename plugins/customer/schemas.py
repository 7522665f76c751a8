"""Customer payloads: what a client may send, and what it gets back."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.errors import Forbidden
from app.fields import LenientInteger, Trimmed, TrimmedEmail, UuidText, timestamp
from app.http import ExtensibleSchema, envelope

EMAIL_MAX = 254
NAME_MAX = 255


META_DATA = {
    "description": "The store's metafields, {namespace: {key: value}}: at most 16 KiB of JSON;"
    ' a write replaces them all (docs/api.md, "Metafields").',
    "type": "object",
}


def _name(**kwargs):
    return Trimmed(validate=validate.Length(min=1, max=NAME_MAX), **kwargs)


class CustomerCreateSchema(ma.Schema):
    """An admin creates a customer: every field is allowed."""

    email = TrimmedEmail(required=True, validate=validate.Length(max=EMAIL_MAX))
    password = fields.String(required=True)
    full_name = _name(required=True)
    status = LenientInteger(choices=(0, 1))
    group_id = LenientInteger()
    meta_data = fields.Raw(metadata=META_DATA)


class SignupSchema(CustomerCreateSchema):
    """A visitor signs up: ``status`` and ``group_id`` are an admin's to set."""

    @ma.pre_load
    def _refuse_admin_fields(self, data, **kwargs):
        if isinstance(data, dict) and ({"status", "group_id", "meta_data"} & data.keys()):
            raise Forbidden("Only an admin may set status, group_id or meta_data.")
        return data


class CustomerUpdateSchema(ma.Schema):
    """An admin updates a customer: any field, each optional."""

    email = TrimmedEmail(validate=validate.Length(max=EMAIL_MAX))
    password = fields.String()
    full_name = _name()
    status = LenientInteger(choices=(0, 1))
    group_id = LenientInteger()
    meta_data = fields.Raw(metadata=META_DATA)


class SelfUpdateSchema(ma.Schema):
    """A customer edits its own account: name and email only."""

    email = TrimmedEmail(validate=validate.Length(max=EMAIL_MAX))
    full_name = _name()

    @ma.pre_load
    def _refuse_admin_fields(self, data, **kwargs):
        if isinstance(data, dict):
            refused = sorted({"password", "status", "group_id", "meta_data"} & data.keys())
            if refused:
                raise Forbidden(
                    "A customer cannot change " + ", ".join(refused) + " here;"
                    " passwords change through the reset-password flow."
                )
        return data


class CustomerListQuerySchema(ma.Schema):
    """Query parameters of ``GET /api/customers``."""

    keyword = Trimmed(validate=validate.Length(max=NAME_MAX))
    full_name = Trimmed(validate=validate.Length(max=NAME_MAX))
    email = Trimmed(validate=validate.Length(max=EMAIL_MAX))
    status = LenientInteger(choices=(0, 1))
    group_id = LenientInteger()
    group = UuidText(metadata={"description": "The uuid of the customers' group."})
    page = LenientInteger(validate=validate.Range(min=1), load_default=1)
    limit = LenientInteger(validate=validate.Range(min=1, max=100), load_default=20)
    ob = fields.String(validate=validate.OneOf(["email", "name", "status", "created_at"]))
    od = fields.String(validate=validate.OneOf(["asc", "desc"]))


class CustomerFilterSchema(CustomerListQuerySchema):
    """The GraphQL ``customers(filters:)`` keys, as the query builder takes them."""

    full_name_nlike = Trimmed(validate=validate.Length(max=NAME_MAX))
    email_like = Trimmed(validate=validate.Length(max=EMAIL_MAX))
    email_nlike = Trimmed(validate=validate.Length(max=EMAIL_MAX))


# --- responses (they also document the API) -------------------------------------


class LinkSchema(ma.Schema):
    rel = fields.String(required=True)
    href = fields.String(required=True)
    action = fields.String(required=True)
    types = fields.List(fields.String(), required=True)


class CustomerSchema(ExtensibleSchema):
    """A customer as the API shows it; plugins may add properties."""

    customer_id = fields.Integer(required=True)
    uuid = fields.String(required=True, metadata={"format": "uuid"})
    status = fields.Integer(required=True, validate=validate.OneOf([0, 1]))
    group_id = fields.Integer(required=True, allow_none=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)
    updated_at = timestamp(required=True)
    meta_data = fields.Dict(required=True, metadata=META_DATA)


class CustomerWithLinksSchema(CustomerSchema):
    links = fields.List(fields.Nested(LinkSchema), required=True)
    insertId = fields.Integer(
        metadata={"description": "On create only: the new customer_id, as EverShop names it."}
    )


class MetafieldsUpdateSchema(ma.Schema):
    """EverShop's admin saves a customer's metafields."""

    metafields = fields.Raw(required=True, metadata=META_DATA)


class MetafieldsSchema(ma.Schema):
    metaData = fields.Dict(required=True, metadata=META_DATA)


class CustomerWithAddressesSchema(CustomerSchema):
    # Present when the address plugin is loaded; each item is an Address.
    addresses = fields.List(
        fields.Dict(),
        metadata={"description": "The customer's addresses, default first (see Address)."},
    )


class CustomerPageSchema(ma.Schema):
    items = fields.List(fields.Nested(CustomerSchema), required=True)
    total = fields.Integer(
        required=True,
        metadata={
            "description": "How many customers match: exact when totalExact, else an "
            "estimate (unfiltered) or a lower bound (docs/api.md, Counting)."
        },
    )
    totalExact = fields.Boolean(required=True)
    hasMore = fields.Boolean(required=True, metadata={"description": "A page follows this one."})
    currentPage = fields.Integer(required=True)
    limit = fields.Integer(required=True)


CustomerEnvelope = envelope(CustomerSchema, "CustomerEnvelope")
CustomerWithLinksEnvelope = envelope(CustomerWithLinksSchema, "CustomerWithLinksEnvelope")
CustomerWithAddressesEnvelope = envelope(
    CustomerWithAddressesSchema, "CustomerWithAddressesEnvelope"
)
CustomerPageEnvelope = envelope(CustomerPageSchema, "CustomerPageEnvelope")
MetafieldsEnvelope = envelope(MetafieldsSchema, "MetafieldsEnvelope")
