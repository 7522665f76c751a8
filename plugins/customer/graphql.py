"""GraphQL: ``Customer``, ``CustomerGroup``, ``CustomerCollection`` and the
queries ``customer``, ``customers`` (admin) and ``currentCustomer`` (storefront),
with EverShop's type and field names."""

from __future__ import annotations

import ariadne
import sqlalchemy as sa

from app.db import db
from app.errors import ValidationError
from app.graphql import GraphQLContribution, batched, date_value, remember
from app.http import load, parse_uuid
from plugins.customer.models import Customer, CustomerGroup
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
}
"""

ADMIN_SDL = (
    TYPES
    + """
type CustomerCollection {
  items: [Customer]
  currentPage: Int
  total: Int
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

# (filter key, operation) -> the query builder's key (CONTRACT §6).
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
    ("ob", "eq"): "ob",
    ("od", "eq"): "od",
    ("page", "eq"): "page",
    ("limit", "eq"): "limit",
}


def customer_object(customer: Customer) -> dict:
    """A ``Customer`` as the resolvers hand it on."""
    return {
        "customerId": customer.customer_id,
        "uuid": str(customer.uuid),
        "status": customer.status,
        "email": customer.email,
        "fullName": customer.full_name,
        "groupId": customer.group_id,
        "createdAt": date_value(customer.created_at),
        "updatedAt": date_value(customer.updated_at),
        "editUrl": f"/admin/customers/edit/{customer.uuid}",
        "updateApi": f"/api/customers/{customer.uuid}",
        "deleteApi": f"/api/customers/{customer.uuid}",
    }


def _customers(info, rows) -> list[dict]:
    items = [customer_object(row) for row in rows]
    remember(info, "customer", (item["customerId"] for item in items))
    remember(info, "customer_group", (item["groupId"] for item in items if item["groupId"]))
    return items


def parse_filters(filters) -> tuple[dict, list[dict]]:
    """GraphQL ``FilterInput``s -> (validated query-builder filters, currentFilters)."""
    raw: dict = {}
    current: list[dict] = []
    for index, item in enumerate(filters or []):
        key, operation, value = item["key"], item["operation"], item.get("value")
        target = FILTER_KEYS.get((key, operation))
        if target is None:
            known = sorted({k for k, _ in FILTER_KEYS})
            message = (
                f"Filter {key!r} does not take the operation {operation!r}."
                if key in known
                else f"Unknown filter {key!r}; use one of: {', '.join(known)}."
            )
            raise ValidationError(message, [{"field": f"filters.{index}", "message": message}])
        raw[target] = value
        current.append({"key": key, "operation": operation, "value": value})
    validated = load(CustomerFilterSchema(), raw)
    for key in ("page", "limit"):
        if key not in raw:
            current.append({"key": key, "operation": "eq", "value": str(validated[key])})
    return validated, current


customer_query = ariadne.QueryType()


@customer_query.field("customer")
def resolve_customer(_, info, id=None):
    customer_uuid = parse_uuid(id)
    if customer_uuid is None:
        return None
    row = db.session.scalar(sa.select(Customer).where(Customer.uuid == customer_uuid))
    return _customers(info, [row])[0] if row else None


@customer_query.field("customers")
def resolve_customers(_, info, filters=None):
    validated, current = parse_filters(filters)
    query = build_customer_query(validated)
    rows = db.session.scalars(query.statement).all()
    return {
        "items": _customers(info, rows),
        "currentPage": query.page,
        "total": db.session.scalar(query.count),
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


customer_type = ariadne.ObjectType("Customer")


@customer_type.field("group")
def resolve_group(customer, info):
    if customer["groupId"] is None:
        return None
    return batched(info, "customer_group", "customer_group", customer["groupId"], _groups)


def _groups(ids: list) -> dict:
    rows = db.session.scalars(
        sa.select(CustomerGroup).where(CustomerGroup.customer_group_id.in_(ids))
    )
    return {
        row.customer_group_id: {
            "customerGroupId": row.customer_group_id,
            "uuid": str(row.uuid),
            "groupName": row.group_name,
        }
        for row in rows
    }


def contribution(audience: str) -> GraphQLContribution:
    if audience == "admin":
        return GraphQLContribution(ADMIN_SDL, [customer_query, customer_type])
    return GraphQLContribution(PUBLIC_SDL, [current_query, customer_type])
