"""A sample plugin with a field that costs more than the others.

Load it with ``PLUGINS=tests.plugins.costly_field``. Its admin query
``salesForecast`` stands for a field that calls a slow service: ariadne's
``@cost`` directive weighs it at 50 in the query cost (docs/api.md, "GraphQL
limits"), and ``sampleCustomers(limit:)`` costs 1 per customer asked for.
"""

from __future__ import annotations

import ariadne
import pluggy

from app.graphql import GraphQLContribution

hookimpl = pluggy.HookimplMarker("evershop")

ADMIN_SDL = """
extend type Query {
  "A forecast from a slow service."
  salesForecast: String @cost(complexity: 50)
  "The names of up to limit sample customers."
  sampleCustomers(limit: Int!): [String] @cost(complexity: 1, multipliers: ["limit"])
}
"""

query = ariadne.QueryType()


@query.field("salesForecast")
def resolve_sales_forecast(_, info):
    return "steady"


@query.field("sampleCustomers")
def resolve_sample_customers(_, info, limit):
    return [f"Sample {n}" for n in range(limit)]


@hookimpl
def register_graphql(audience):
    return [GraphQLContribution(ADMIN_SDL, [query])] if audience == "admin" else []
