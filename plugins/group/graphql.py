"""Admin GraphQL: ``customerGroup(id)`` and ``customerGroups(filters)`` with
EverShop's names, and ``CustomerGroup.customerCount``, loaded for every group
of an answer in one query (docs/api.md, "GraphQL")."""

from __future__ import annotations

import re

import ariadne

from app.graphql import GraphQLContribution, batched, parse_filters, remember
from app.http import parse_uuid
from app.services import service
from plugins.group.schemas import GroupListQuerySchema

SDL = """
extend type CustomerGroup {
  "How many customers belong to the group."
  customerCount: Int
}

type CustomerGroupCollection {
  items: [CustomerGroup]
  currentPage: Int
  total: Int
  currentFilters: [FilterOutput]
}

extend type Query {
  "A group by its id (EverShop's customerGroupId) or its uuid; null when none has it."
  customerGroup(id: ID): CustomerGroup
  customerGroups(filters: [FilterInput]): CustomerGroupCollection
}
"""

# (filter key, operation) -> the list's query parameter, as EverShop names them.
FILTER_KEYS = {
    ("name", "like"): "name",
    ("ob", "eq"): "ob",
    ("od", "eq"): "od",
    ("page", "eq"): "page",
    ("limit", "eq"): "limit",
}
_DIGITS = re.compile(r"[0-9]{1,10}")


def _shown(group: dict) -> dict:
    """A group with the GraphQL names the ``CustomerGroup`` type reads."""
    return {
        "customerGroupId": group["customer_group_id"],
        "uuid": group["uuid"],
        "groupName": group["group_name"],
    }


query = ariadne.QueryType()


@query.field("customerGroup")
def resolve_customer_group(_, info, id=None):
    groups = service("customer_groups")
    text = str(id).strip() if id is not None else ""
    if _DIGITS.fullmatch(text):
        # Beyond the column's range no group can have it.
        group = groups.find(group_id=int(text)) if int(text) < 2**31 else None
    else:
        group_uuid = parse_uuid(text)
        group = groups.find(group_uuid) if group_uuid is not None else None
    if group is None:
        return None
    remember(info, "customer_group", [group["customer_group_id"]])
    return _shown(group)


@query.field("customerGroups")
def resolve_customer_groups(_, info, filters=None):
    validated, current = parse_filters(filters, FILTER_KEYS, GroupListQuerySchema())
    found = service("customer_groups").page(validated)
    remember(info, "customer_group", (group["customer_group_id"] for group in found.items))
    return {
        "items": [_shown(group) for group in found.items],
        "currentPage": found.page,
        "total": found.total,
        "currentFilters": current,
    }


group_type = ariadne.ObjectType("CustomerGroup")


@group_type.field("customerCount")
def resolve_customer_count(group, info):
    # Every group of the answer (customers' groups included) in one query.
    return batched(
        info,
        "customer_group_count",
        "customer_group",
        group["customerGroupId"],
        service("customer_groups").member_counts,
    )


def contribution() -> GraphQLContribution:
    return GraphQLContribution(SDL, [query, group_type])
