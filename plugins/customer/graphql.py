"""GraphQL: ``Customer``, ``CustomerGroup``, ``CustomerCollection`` and the
queries ``customer``, ``customers`` (admin) and ``currentCustomer`` (storefront),
with EverShop's type and field names."""

from __future__ import annotations

import ariadne
import sqlalchemy as sa

from app import driver_reads
from app.db import as_utc, db, parse_timestamp
from app.graphql import (
    GraphQLContribution,
    batched,
    date_value,
    parse_filters,
    prime,
    remember,
    requested_fields,
)
from app.http import parse_uuid
from plugins.customer import metafields
from plugins.customer.models import Customer, CustomerGroup
from plugins.customer.presenter import fields, present_many
from plugins.customer.queries import build_customer_query
from plugins.customer.schemas import CustomerFilterSchema

TYPES = """
type CustomerGroup {
  customerGroupId: Int
  uuid: String
  groupName: String
}

type Customer {
  customerId: Int!
  uuid: String!
  status: Int
  email: String
  fullName: String
  groupId: Int
  group: CustomerGroup
  createdAt: Date
  updatedAt: Date
  editUrl: String
  updateApi: String
  deleteApi: String
  urn: String
  addAddressApi: String
  updateProfileApi: String
  metafields(namespace: String): [Metafield!]!
  metafield(namespace: String!, key: String!): Metafield
}
"""

ADMIN_SDL = (
    TYPES
    + """
extend type Customer {
  "The store's metafields ({namespace: {key: value}})."
  metaData: JSON
  updateMetafieldsApi: String
}

type CustomerCollection {
  items: [Customer]
  currentPage: Int
  "How many match: exact when totalExact, else an estimate or a lower bound."
  total: Int
  totalExact: Boolean
  "Whether a page follows this one."
  hasMore: Boolean
  currentFilters: [FilterOutput]
}

extend type Query {
  customer(id: String): Customer
  customers(filters: [FilterInput]): CustomerCollection
}
"""
)

PUBLIC_SDL = (
    TYPES
    + """
extend type Query {
  currentCustomer: Customer
}
"""
)

# (filter key, operation) -> the query builder's key (docs/api.md, "GraphQL").
FILTER_KEYS = {
    ("keyword", "eq"): "keyword",
    ("keyword", "like"): "keyword",
    ("full_name", "like"): "full_name",
    ("full_name", "nlike"): "full_name_nlike",
    ("email", "eq"): "email",
    ("email", "like"): "email_like",
    ("email", "nlike"): "email_nlike",
    ("status", "eq"): "status",
    ("group_id", "eq"): "group_id",
    ("group", "eq"): "group",
    ("ob", "eq"): "ob",
    ("od", "eq"): "od",
    ("page", "eq"): "page",
    ("limit", "eq"): "limit",
}


def _customers(info, rows) -> list[dict]:
    """Customers as the API shows them (plugin fields included): the objects
    the ``Customer`` resolvers read. Their groups load together later.
    Plugin fields the query does not name are not loaded."""
    items = present_many(rows, only=fields().graphql_selected(requested_fields(info)))
    # GraphQL's dates have milliseconds, which the API's text has not.
    for item, row in zip(items, rows, strict=True):
        item["created_moment"] = as_utc(row.created_at)
    remember(info, "customer", (item["customer_id"] for item in items))
    remember(info, "customer_group", (item["group_id"] for item in items if item["group_id"]))
    return items


customer_query = ariadne.QueryType()


@customer_query.field("customer")
def resolve_customer(_, info, id=None):
    customer_uuid = parse_uuid(id)
    if customer_uuid is None:
        return None
    if "group" in requested_fields(info):
        # The group comes in the customer's own query: one round trip fewer.
        row = driver_reads.first(db.session, _WITH_GROUP, {"uuid": customer_uuid})
        if row is not None and row.customer_group_id is not None:
            prime(info, "customer_group", {row.customer_group_id: _group_value(row)})
    else:
        row = driver_reads.first(db.session, _ONE, {"uuid": customer_uuid})
    return _customers(info, [row])[0] if row else None


@customer_query.field("customers")
def resolve_customers(_, info, filters=None):
    validated, current = parse_filters(filters, FILTER_KEYS, CustomerFilterSchema())
    query = build_customer_query(validated)
    rows, counted = query.read()
    return {
        "items": _customers(info, rows),
        "currentPage": query.page,
        "total": counted.total,
        "totalExact": counted.exact,
        "hasMore": counted.has_more,
        "currentFilters": current,
    }


current_query = ariadne.QueryType()


@current_query.field("currentCustomer")
def resolve_current_customer(_, info):
    principal = info.context["principal"]
    if principal is None or principal.token_type != "customer":
        return None
    row = db.session.get(Customer, principal.account["customer_id"])
    return _customers(info, [row])[0] if row else None


def resolve_created_at(customer, info):
    return date_value(customer.get("created_moment") or parse_timestamp(customer["created_at"]))


def resolve_updated_at(customer, info):
    return date_value(parse_timestamp(customer["updated_at"]))


def resolve_own_created_at(customer, info):
    """The storefront's ``createdAt``, as EverShop's storefront gives it: the
    moment in ISO 8601 with milliseconds (``2026-11-27T02:53:17.796Z``)."""
    moment = customer.get("created_moment") or as_utc(parse_timestamp(customer["created_at"]))
    shown = date_value(moment)
    shown["value"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return shown


def resolve_urn(customer, info):
    return f"urn:evershop:customer:customer:{customer['uuid']}"


def resolve_metafields_api(customer, info):
    return f"/api/customers/{customer['uuid']}/metafields"


def _definitions(info) -> list[dict]:
    # Once per request, whatever the number of customers.
    if "metafield_definitions" not in info.context:
        info.context["metafield_definitions"] = metafields.definitions()
    return info.context["metafield_definitions"]


def _audience(info) -> str:
    principal = info.context["principal"]
    return "admin" if principal is not None and principal.token_type == "admin" else "customer"


def resolve_metafields(customer, info, namespace=None):
    return metafields.shaped(customer["meta_data"], _definitions(info), _audience(info), namespace)


def resolve_metafield(customer, info, namespace, key):
    found = metafields.shaped(customer["meta_data"], _definitions(info), _audience(info), namespace)
    return next((item for item in found if item["key"] == key), None)


def resolve_edit_url(customer, info):
    return f"/admin/customers/edit/{customer['uuid']}"


def resolve_api(customer, info):
    return f"/api/customers/{customer['uuid']}"


def resolve_group(customer, info):
    if customer["group_id"] is None:
        return None
    return batched(info, "customer_group", "customer_group", customer["group_id"], _groups)


def customer_type(extra, audience: str) -> ariadne.ObjectType:
    """``Customer``'s resolvers: each reads the API's dict (the presenter's)."""
    bound = ariadne.ObjectType("Customer")
    for graphql_name, api_name in (
        ("customerId", "customer_id"),
        ("fullName", "full_name"),
        ("groupId", "group_id"),
    ):
        bound.set_alias(graphql_name, api_name)
    bound.set_field(
        "createdAt", resolve_created_at if audience == "admin" else resolve_own_created_at
    )
    bound.set_field("updatedAt", resolve_updated_at)
    bound.set_field("editUrl", resolve_edit_url)
    bound.set_field("updateApi", resolve_api)
    bound.set_field("deleteApi", resolve_api)
    bound.set_field("group", resolve_group)
    bound.set_field("urn", resolve_urn)
    # EverShop's self-service routes: they act on the customer of the token.
    bound.set_field("addAddressApi", lambda customer, info: "/api/customers/me/addresses")
    bound.set_field("updateProfileApi", lambda customer, info: "/api/customers/me")
    bound.set_field("metafields", resolve_metafields)
    bound.set_field("metafield", resolve_metafield)
    if audience == "admin":
        bound.set_alias("metaData", "meta_data")
        bound.set_field("updateMetafieldsApi", resolve_metafields_api)
    extra.graphql_resolvers(bound)
    return bound


# Built once (docs/performance.md, "Statements built once"). Customers and
# groups read as columns, not ORM objects: only presented (about 0.1 ms less
# a request); a group's columns under the names _group_value reads; never the
# password hash.
_CUSTOMER = Customer.__table__
_GROUP = CustomerGroup.__table__
_SHOWN = [column for column in _CUSTOMER.c if column.name != "password"]
_GROUP_COLUMNS = (
    _GROUP.c.customer_group_id,
    _GROUP.c.uuid.label("group_uuid"),
    _GROUP.c.group_name,
)
_GROUPS = sa.select(*_GROUP_COLUMNS).where(
    _GROUP.c.customer_group_id.in_(sa.bindparam("ids", expanding=True))
)
_ONE = sa.select(*_SHOWN).where(_CUSTOMER.c.uuid == sa.bindparam("uuid"))
_WITH_GROUP = (
    sa.select(*_SHOWN, *_GROUP_COLUMNS)
    .outerjoin(_GROUP, _GROUP.c.customer_group_id == _CUSTOMER.c.group_id)
    .where(_CUSTOMER.c.uuid == sa.bindparam("uuid"))
)


def _group_value(row: sa.Row) -> dict:
    return {
        "customerGroupId": row.customer_group_id,
        "uuid": str(row.group_uuid),
        "groupName": row.group_name,
    }


def _groups(ids: list) -> dict:
    rows = db.session.execute(_GROUPS, {"ids": list(ids)})
    return {row.customer_group_id: _group_value(row) for row in rows}


def contribution(audience: str) -> GraphQLContribution:
    """The customer types and queries of one schema, with the plugin fields."""
    extra = fields()
    sdl = (ADMIN_SDL if audience == "admin" else PUBLIC_SDL) + extra.graphql_sdl("Customer")
    query = customer_query if audience == "admin" else current_query
    return GraphQLContribution(sdl, [query, customer_type(extra, audience)])
