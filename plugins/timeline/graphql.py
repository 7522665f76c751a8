"""GraphQL: ``Customer.timeline`` in the admin schema, loaded for a whole page
of customers in one query."""

from __future__ import annotations

import json

import ariadne

from app.db import parse_timestamp
from app.errors import ValidationError
from app.graphql import GraphQLContribution, batched, date_value
from plugins.timeline.service import newest_for

SDL = """
"An entry of a customer's timeline: what happened, who did it, when."
type CustomerTimelineEntry {
  uuid: String!
  event: String!
  "admin, customer, plugin or system"
  actorType: String!
  actorId: String
  "The entry's details as a JSON object, in text (never personal data)."
  details: String
  note: String
  createdAt: Date
}

extend type Customer {
  "The newest entries of the customer's timeline, newest first (limit: 1 to 100, default 20)."
  timeline(limit: Int): [CustomerTimelineEntry]
}
"""

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

customer = ariadne.ObjectType("Customer")
entry = ariadne.ObjectType("CustomerTimelineEntry")
entry.set_alias("actorType", "actor_type")
entry.set_alias("actorId", "actor_id")


@customer.field("timeline")
def resolve_timeline(obj, info, limit=None):
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.for_field("limit", f"Must be between 1 and {MAX_LIMIT}.")
    return batched(
        info,
        f"customer_timeline:{limit}",
        "customer",
        obj["customer_id"],
        lambda ids: newest_for(ids, limit),
    )


@entry.field("details")
def resolve_details(obj, info):
    return json.dumps(obj["details"], separators=(",", ":"), sort_keys=True)


@entry.field("createdAt")
def resolve_created_at(obj, info):
    return date_value(parse_timestamp(obj["created_at"]))


def contribution(audience: str) -> GraphQLContribution | None:
    if audience != "admin":
        return None
    return GraphQLContribution(SDL, [customer, entry])
