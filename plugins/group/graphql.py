"""Admin GraphQL: ``customerGroup(id)`` and ``customerGroups(filters)`` with
EverShop's names, and ``CustomerGroup.customerCount``, loaded for every group
of an answer in one query (docs/api.md, "GraphQL")."""

from __future__ import annotations

import re

import ariadne

from app.errors import ValidationError
from app.graphql import GraphQLContribution, batched, remember
from app.http import load, parse_uuid
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


def parse_filters(filters) -> tuple[dict, list[dict]]:
    """``FilterInput``s -> (validated list parameters, currentFilters)."""
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
    validated = load(GroupListQuerySchema(), raw)
    for key in ("page", "limit"):
        if key not in raw:
            current.append({"key": key, "operation": "eq", "value": str(validated[key])})
    return validated, current


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
    validated, current = parse_filters(filters)
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
