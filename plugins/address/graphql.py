"""GraphQL: ``CustomerAddress``, ``Country``, ``Province``, and
``Customer.addresses`` in both schemas, loaded for a whole page at once."""

from __future__ import annotations

from functools import lru_cache

import ariadne
import pycountry

from app.graphql import GraphQLContribution, batched
from plugins.address.presenter import fields
from plugins.address.service import addresses_by_customer

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
  "The same as customerAddressId (EverShop's storefront asks for it)."
  addressId: Int
  "Always null: a customer's address is no cart's (EverShop's type has it)."
  cartAddressId: Int
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


def resolve_province(address, info):
    return province_object(address["province"], address["country"])


def resolve_country(address, info):
    return country_object(address["country"])


def resolve_admin_api(address, info):
    return f"/api/customers/{address['customer_uuid']}/addresses/{address['uuid']}"


def resolve_own_api(address, info):
    # The storefront's customer reads its own addresses: EverShop's /me route.
    return f"/api/customers/me/addresses/{address['uuid']}"


def address_type(extra, audience: str) -> ariadne.ObjectType:
    """``CustomerAddress``'s resolvers: each reads the API's dict."""
    bound = ariadne.ObjectType("CustomerAddress")
    for graphql_name, api_name in (
        ("customerAddressId", "customer_address_id"),
        ("fullName", "full_name"),
        ("address1", "address_1"),
        ("address2", "address_2"),
        ("isDefault", "is_default"),
        ("addressId", "customer_address_id"),
    ):
        bound.set_alias(graphql_name, api_name)
    bound.set_field("cartAddressId", lambda address, info: None)
    bound.set_field("province", resolve_province)
    bound.set_field("country", resolve_country)
    resolve_api = resolve_admin_api if audience == "admin" else resolve_own_api
    bound.set_field("updateApi", resolve_api)
    bound.set_field("deleteApi", resolve_api)
    extra.graphql_resolvers(bound)
    return bound


def resolve_addresses(customer, info):
    found = batched(info, "customer_addresses", "customer", customer["customer_id"], _load)
    return [{**address, "customer_uuid": customer["uuid"]} for address in found]


def _load(customer_ids: list) -> dict:
    # Only ids are needed: GraphQL's address links do not name the customer.
    found = addresses_by_customer(
        [{"customer_id": i, "uuid": ""} for i in customer_ids], links=False
    )
    return found


def contribution(audience: str) -> GraphQLContribution:
    extra = fields()
    customer_type = ariadne.ObjectType("Customer")
    customer_type.set_field("addresses", resolve_addresses)
    return GraphQLContribution(
        SDL + extra.graphql_sdl("CustomerAddress"), [customer_type, address_type(extra, audience)]
    )
