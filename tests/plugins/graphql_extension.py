"""A sample plugin that extends the GraphQL schemas.

Load it with ``PLUGINS=tests.plugins.graphql_extension``. It shows the three
ways a plugin grows the schema through ``register_graphql(audience)``:

* a field on an existing type, in both schemas: ``Customer.loyaltyTier``,
  computed from the email;
* a query of its own, for admins only: ``customerCount``;
* a resolver that fails (``loyaltyReport``), to show that an unexpected error
  reaches the client as a generic message with the request id, never as the
  exception's text.
"""

from __future__ import annotations

import ariadne
import pluggy
import sqlalchemy as sa

from app.db import db
from app.graphql import GraphQLContribution

hookimpl = pluggy.HookimplMarker("evershop")

VIP_DOMAIN = "@vip.example"
# The text of the failure that must never reach a client.
REPORT_FAILURE = "loyalty backend unreachable at 10.0.0.7:5432"

CUSTOMER_SDL = """
extend type Customer {
  "gold for the VIP domain, standard for everyone else"
  loyaltyTier: String
}
"""

ADMIN_SDL = """
extend type Query {
  "How many customers there are."
  customerCount: Int
  "A report that depends on a service this sample never reaches."
  loyaltyReport: String
}
"""

customer_type = ariadne.ObjectType("Customer")


@customer_type.field("loyaltyTier")
def resolve_loyalty_tier(customer, info):
    return "gold" if customer["email"].lower().endswith(VIP_DOMAIN) else "standard"


query = ariadne.QueryType()


@query.field("customerCount")
def resolve_customer_count(_, info):
    return db.session.scalar(sa.text("SELECT count(*) FROM customer"))


@query.field("loyaltyReport")
def resolve_loyalty_report(_, info):
    raise RuntimeError(REPORT_FAILURE)


@hookimpl
def register_graphql(audience):
    """``Customer.loyaltyTier`` everywhere; ``customerCount`` for admins."""
    contributions = [GraphQLContribution(CUSTOMER_SDL, [customer_type])]
    if audience == "admin":
        contributions.append(GraphQLContribution(ADMIN_SDL, [query]))
    return contributions
