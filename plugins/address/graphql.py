"""GraphQL: ``CustomerAddress``, ``Country``, ``Province``, and
``Customer.addresses`` in both schemas, loaded for a whole page at once."""

from __future__ import annotations

from functools import lru_cache

import ariadne
import pycountry
import sqlalchemy as sa

from app.db import db
from app.graphql import GraphQLContribution, batched
from plugins.address.models import CustomerAddress
from plugins.address.service import _ORDER

SDL = """
type Country {
  code: String
  name: String
}

type Province {
  code: String
  name: String
  countryCode: String
}

type CustomerAddress {
  customerAddressId: Int!
  uuid: String!
  fullName: String
  telephone: String
  address1: String
  address2: String
  city: String
  province: Province
  country: Country
  postcode: String
  isDefault: Boolean
  updateApi: String
  deleteApi: String
}

extend type Customer {
  addresses: [CustomerAddress]
}
"""


@lru_cache(maxsize=512)
def country_object(code: str | None) -> dict | None:
    """``Country {code name}``: the ISO 3166 name, or the code where there is none."""
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code.upper())
    return {"code": code, "name": country.name if country else code}


@lru_cache(maxsize=2048)
def province_object(code: str | None, country: str | None) -> dict | None:
    """``Province {code name countryCode}`` for ``US-NY`` or ``NY`` (with its
    country); the name from ISO 3166-2, or the code itself where there is none."""
    if not code:
        return None
    full = code if "-" in code or not country else f"{country.upper()}-{code.upper()}"
    subdivision = pycountry.subdivisions.get(code=full.upper())
    return {
        "code": code,
        "name": subdivision.name if subdivision else code,
        "countryCode": country,
    }


def address_object(address: CustomerAddress, customer_uuid) -> dict:
    api = f"/api/customers/{customer_uuid}/addresses/{address.uuid}"
    return {
        "customerAddressId": address.customer_address_id,
        "uuid": str(address.uuid),
        "fullName": address.full_name,
        "telephone": address.telephone,
        "address1": address.address_1,
        "address2": address.address_2,
        "city": address.city,
        "province": province_object(address.province, address.country),
        "country": country_object(address.country),
        "postcode": address.postcode,
        "isDefault": bool(address.is_default),
        "updateApi": api,
        "deleteApi": api,
    }


customer_type = ariadne.ObjectType("Customer")


@customer_type.field("addresses")
def resolve_addresses(customer, info):
    return batched(info, "customer_addresses", "customer", customer["customerId"], _load)


def _load(customer_ids: list) -> dict:
    from plugins.customer.models import Customer

    rows = db.session.execute(
        sa.select(CustomerAddress, Customer.uuid)
        .join(Customer, Customer.customer_id == CustomerAddress.customer_id)
        .where(CustomerAddress.customer_id.in_(customer_ids))
        .order_by(CustomerAddress.customer_id, *_ORDER)
    )
    found: dict = {customer_id: [] for customer_id in customer_ids}
    for address, customer_uuid in rows:
        found[address.customer_id].append(address_object(address, customer_uuid))
    return found


def contribution(audience: str) -> GraphQLContribution:
    return GraphQLContribution(SDL, [customer_type])
