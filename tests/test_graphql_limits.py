"""GraphQL limits (docs/api.md, "GraphQL limits"): a body size, tokens, depth,
fields and cost per endpoint, tighter on the storefront's than on the admin's;
refusals are quick 400s in the GraphQL error format (413 for the body), and
only small queries are cached."""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
from graphql import get_introspection_query

from app.graphql import QueryCache
from tests.conftest import Auth

ADMIN_GRAPHQL = "/api/admin/graphql"
PUBLIC_GRAPHQL = "/api/graphql"
TOO_LARGE = {"error": {"status": 413, "message": "The request body is too large."}}


def post(client, query: str, path=PUBLIC_GRAPHQL, headers=None, variables=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post(path, json=body, headers=headers or {})


def aliases(count: int) -> str:
    """``count`` aliased ``__typename`` fields: cheap to write, one field each."""
    return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"


def nested(depth: int, leaf: str = "__typename") -> str:
    """Fields nested ``depth`` deep (they need not exist: the limit is checked first)."""
    return "{ " + "f { " * (depth - 1) + leaf + " }" * depth


def only_message(response) -> str:
    """The message of a GraphQL error answer with exactly one error."""
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    (error,) = response.json["errors"]
    return error["message"]


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


# --- the body ----------------------------------------------------------------


def test_public_body_over_its_limit_is_413(client):
    # Given a query of 16 KiB and more (the storefront's default limit)
    query = "{ __typename }" + " " * (16 * 1024)

    # When it is sent to the storefront's endpoint
    response = post(client, query)

    # Then it is refused in the error envelope, unread
    assert response.status_code == 413
    assert response.json == TOO_LARGE


def test_admin_accepts_a_body_the_public_endpoint_refuses(client, admin):
    # Given the same 16 KiB query
    query = "{ __typename }" + " " * (16 * 1024)

    # When an admin sends it
    response = post(client, query, ADMIN_GRAPHQL, admin)

    # Then it runs
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"__typename": "Query"}}


def test_body_limit_is_read_from_the_settings(make_app):
    # Given a storefront endpoint that takes bodies of at most 100 bytes
    client = make_app(GRAPHQL_PUBLIC_MAX_BODY_BYTES=100).test_client()

    # When a body of 101 bytes comes
    body = json.dumps({"query": "{ __typename }" + " " * 100})[:101]
    response = client.post(PUBLIC_GRAPHQL, data=body, content_type="application/json")

    # Then it is a 413
    assert response.status_code == 413
    assert response.json == TOO_LARGE


# --- tokens ---------------------------------------------------------------------


def test_query_over_the_token_limit_is_400_in_the_graphql_format(client):
    # Given 400 aliases: 1,202 tokens, in a body under the size limit
    query = aliases(400)

    # When the storefront's endpoint gets them
    response = post(client, query)

    # Then parsing stops at the 1,000th token
    assert only_message(response) == (
        "Syntax Error: Document contains more than 1000 tokens. Parsing aborted."
    )


def test_fifty_thousand_aliases_are_refused_within_a_second(make_app):
    # Given a service whose body limits would let the whole query in
    client = make_app(
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        GRAPHQL_PUBLIC_MAX_BODY_BYTES=2 * 1024 * 1024,
    ).test_client()
    query = aliases(50_000)

    # When the storefront's endpoint gets 50,000 aliased __typename fields
    started = time.perf_counter()
    response = post(client, query)
    elapsed = time.perf_counter() - started

    # Then they are refused at the token limit, long before they could run
    assert only_message(response).startswith("Syntax Error: Document contains more than 1000")
    assert elapsed < 1.0


def test_comments_count_as_tokens(client):
    # Given a small query padded with 1,000 comments
    query = "{ __typename }\n" + "#\n" * 1000

    # When the storefront's endpoint gets it
    response = post(client, query)

    # Then the comments count toward the limit
    assert only_message(response).startswith("Syntax Error: Document contains more than 1000")


# --- depth ---------------------------------------------------------------------


def test_query_nested_deeper_than_the_limit_is_400(client):
    # Given fields nested 9 deep (the storefront allows 8)
    # When the storefront's endpoint gets them
    response = post(client, nested(9))

    # Then the depth is refused before the schema is consulted
    assert only_message(response) == "The query nests fields 9 deep; at most 8 are allowed."


def test_query_nested_as_deep_as_the_limit_passes_it(client):
    # Given fields nested exactly 8 deep
    # When the storefront's endpoint gets them
    response = post(client, nested(8))

    # Then the depth passes, and the schema's own rules answer
    assert only_message(response) == "Cannot query field 'f' on type 'Query'."


def test_depth_counts_through_fragments(client):
    # Given 4 levels of fields in the operation and 5 in the fragment spread
    # inside them: 9 in all, neither more than 8 alone
    query = (
        "{ f { f { f { f { ...Deep } } } } }"
        " fragment Deep on Query { f { f { f { f { __typename } } } } }"
    )

    # When the storefront's endpoint gets it
    response = post(client, query)

    # Then the depth is the sum
    assert only_message(response) == "The query nests fields 9 deep; at most 8 are allowed."


def test_admin_allows_deeper_queries_than_the_storefront(client, admin):
    # Given fields nested 9 deep, as for the storefront's refusal above
    # When an admin sends them
    response = post(client, nested(9), ADMIN_GRAPHQL, admin)

    # Then the depth passes (the admin's limit is 15), and the schema answers
    assert only_message(response) == "Cannot query field 'f' on type 'Query'."


# --- fields and aliases -------------------------------------------------------------


def test_query_selecting_more_fields_than_the_limit_is_400(client):
    # Given 201 aliased fields (the storefront allows 200)
    # When the storefront's endpoint gets them
    response = post(client, aliases(201))

    # Then they are refused
    assert only_message(response) == "The query selects 201 fields; at most 200 are allowed."


def test_query_selecting_as_many_fields_as_the_limit_runs(client):
    # Given exactly 200 aliased fields
    # When the storefront's endpoint gets them
    response = post(client, aliases(200))

    # Then they run
    assert response.status_code == 200, response.json
    assert response.json["data"] == {f"a{n}": "Query" for n in range(200)}


def test_admin_allows_more_fields_than_the_storefront(client, admin):
    # Given the 201 aliased fields that the storefront refuses
    # When an admin sends them
    response = post(client, aliases(201), ADMIN_GRAPHQL, admin)

    # Then they run
    assert response.status_code == 200, response.json
    assert len(response.json["data"]) == 201


def test_fields_of_a_fragment_count_once_per_spread(client):
    # Given a fragment of 2 fields, spread twice in each of 7 chained fragments:
    # 28 lines that select 2 ** 8 = 256 fields
    chain = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(7))
    query = "{ ...F0 } " + chain + " fragment F7 on Query { a: __typename b: __typename }"

    # When the storefront's endpoint gets it
    response = post(client, query)

    # Then every spread counts
    assert only_message(response) == "The query selects 256 fields; at most 200 are allowed."


def test_a_fragment_bomb_is_refused_quickly(client, admin):
    # Given 40 chained fragments, each spreading the next twice: 2 ** 40 fields
    chain = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(40))
    query = "{ ...F0 } " + chain + " fragment F40 on Query { __typename }"

    # When an admin sends it
    started = time.perf_counter()
    response = post(client, query, ADMIN_GRAPHQL, admin)
    elapsed = time.perf_counter() - started

    # Then it is refused without being expanded
    assert only_message(response) == (
        f"The query selects {2**40} fields; at most 1000 are allowed."
    )
    assert elapsed < 1.0


def test_a_fragment_cycle_is_a_validation_error(client, admin):
    # Given two fragments that spread each other
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"

    # When an admin sends it
    response = post(client, query, ADMIN_GRAPHQL, admin)

    # Then the limits let it through to the rule that names the cycle
    assert only_message(response) == "Cannot spread fragment 'A' within itself via 'B'."


# --- cost ------------------------------------------------------------------------


# Seven fields of the schema: a cost of 7.
SEVEN_FIELDS = "{ customers { total currentPage items { uuid email fullName } } }"


@pytest.fixture
def cost_limited(make_app):
    """A client and an admin's headers, admins being limited to a cost of 6."""
    app = make_app(GRAPHQL_ADMIN_MAX_COST=6)
    client = app.test_client()
    return client, Auth(app, client).admin_headers()


def test_query_over_the_cost_limit_is_400(cost_limited):
    client, headers = cost_limited

    # When an admin asks for 7 fields of the schema
    response = post(client, SEVEN_FIELDS, ADMIN_GRAPHQL, headers)

    # Then it is refused, saying the cost
    assert only_message(response) == "The query exceeds the maximum cost of 6. Actual cost is 7"


def test_query_at_the_cost_limit_runs(make_app):
    # Given admins limited to a cost of 7
    app = make_app(GRAPHQL_ADMIN_MAX_COST=7)
    client = app.test_client()
    headers = Auth(app, client).admin_headers()

    # When an admin asks for 7 fields of the schema
    query = "{ customers { total currentPage items { uuid email fullName } } }"
    response = post(client, query, ADMIN_GRAPHQL, headers)

    # Then it runs
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customers": {"total": 0, "currentPage": 1, "items": []}}}


def test_a_plugin_weighs_a_costly_field_with_the_cost_directive(make_app):
    # Given a plugin's field that costs 50, and admins limited to a cost of 40
    app = make_app(PLUGINS=["tests.plugins.costly_field"], GRAPHQL_ADMIN_MAX_COST=40)
    client = app.test_client()
    headers = Auth(app, client).admin_headers()

    # When an admin asks for it
    response = post(client, "{ salesForecast }", ADMIN_GRAPHQL, headers)

    # Then its weight counts
    assert only_message(response) == "The query exceeds the maximum cost of 40. Actual cost is 50"


def test_cost_multipliers_read_the_variables_of_each_request(make_app):
    # Given a field that costs 1 per item asked for, and admins limited to 40
    app = make_app(PLUGINS=["tests.plugins.costly_field"], GRAPHQL_ADMIN_MAX_COST=40)
    client = app.test_client()
    headers = Auth(app, client).admin_headers()
    query = "query ($n: Int!) { sampleCustomers(limit: $n) }"

    # When an admin sends the same query text with 3, then 41
    small = post(client, query, ADMIN_GRAPHQL, headers, {"n": 3})
    large = post(client, query, ADMIN_GRAPHQL, headers, {"n": 41})

    # Then each is costed with its own variables, the cached validation notwithstanding
    assert small.status_code == 200, small.json
    assert small.json == {"data": {"sampleCustomers": ["Sample 0", "Sample 1", "Sample 2"]}}
    assert only_message(large) == "The query exceeds the maximum cost of 40. Actual cost is 41"


def test_a_query_without_variables_over_the_cost_limit_is_refused_again(cost_limited):
    client, headers = cost_limited

    # When an admin sends a query of cost 7, written out in full, twice
    first = post(client, SEVEN_FIELDS, ADMIN_GRAPHQL, headers)
    second = post(client, SEVEN_FIELDS, ADMIN_GRAPHQL, headers)

    # Then both are refused alike
    expected = "The query exceeds the maximum cost of 6. Actual cost is 7"
    assert only_message(first) == only_message(second) == expected


@pytest.fixture
def cost_checks(app, monkeypatch) -> list:
    """The times a request's query was costed."""
    from app.graphql_limits import Limits

    checks = []
    make_rule = Limits.cost_rule

    def counted(self, variables):
        rule = make_rule(self, variables)

        class Counted(rule):
            def __init__(self, context):
                checks.append(variables)
                super().__init__(context)

        Counted.per_request = True
        return Counted

    monkeypatch.setattr(Limits, "cost_rule", counted)
    return checks


def test_a_query_without_variables_is_costed_once(client, admin, cost_checks):
    query = "{ customers { total } }"

    for _ in range(3):
        response = post(client, query, ADMIN_GRAPHQL, admin)
        assert response.json == {"data": {"customers": {"total": 0}}}

    assert len(cost_checks) == 1


def test_a_query_with_variables_is_costed_on_every_request(client, admin, cost_checks):
    query = "query ($id: String) { customer(id: $id) { uuid } }"
    ids = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]

    for customer_id in ids:
        response = post(client, query, ADMIN_GRAPHQL, admin, {"id": customer_id})
        assert response.json == {"data": {"customer": None}}

    assert [checked["id"] for checked in cost_checks] == ids


# --- queries clients really send ---------------------------------------------------


def test_graphiql_introspection_passes_the_admin_limits(client, admin):
    # Given the fullest introspection query graphql-core writes
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )

    # When an admin sends it
    response = post(client, query, ADMIN_GRAPHQL, admin)

    # Then it runs
    assert response.status_code == 200, response.json
    assert response.json["data"]["__schema"]["queryType"] == {"name": "Query", "kind": "OBJECT"}


def test_evershop_style_admin_grid_query_passes_the_admin_limits(client, admin, auth):
    # Given a customer and the admin grid's query, with fragments and variables
    customer = auth.create_customer()
    query = """
    query Query($filters: [FilterInput]) {
      customers(filters: $filters) {
        items { ...Row addresses { ...Place } }
        total
        currentFilters { key operation value }
      }
    }
    fragment Row on Customer {
      customerId uuid fullName email status
      createdAt { value text }
      group { groupName }
      editUrl updateApi deleteApi
    }
    fragment Place on CustomerAddress {
      fullName address1 city postcode isDefault
      country { code name }
      province { code name }
    }
    """
    filters = [{"key": "limit", "operation": "eq", "value": "20"}]

    # When an admin sends it
    response = post(client, query, ADMIN_GRAPHQL, admin, {"filters": filters})

    # Then it runs
    assert response.status_code == 200, response.json
    assert [item["uuid"] for item in response.json["data"]["customers"]["items"]] == [
        customer["uuid"]
    ]


def test_storefront_account_query_passes_the_public_limits(client, auth):
    # Given a signed-in customer with an address, and the account page's query
    customer = auth.create_customer()
    headers = auth.customer_headers()
    added = client.post(
        "/api/customers/me/addresses",
        json={
            "full_name": "John Smith",
            "address_1": "1 Main St",
            "city": "Albany",
            "country": "US",
            "province": "NY",
        },
        headers=headers,
    )
    assert added.status_code == 201, added.json
    query = """
    query Account {
      account: currentCustomer {
        uuid fullName email
        createdAt { value text }
        addresses {
          uuid fullName address1 address2 city postcode telephone isDefault
          country { code name } province { code name }
          updateApi deleteApi
        }
      }
    }
    """

    # When the storefront sends it
    response = post(client, query, headers=headers)

    # Then it runs
    assert response.status_code == 200, response.json
    assert response.json["data"]["account"]["uuid"] == customer["uuid"]
    assert response.json["data"]["account"]["addresses"][0]["city"] == "Albany"


# --- the cache --------------------------------------------------------------------------


def test_a_small_query_is_cached(app, client):
    # When the storefront runs a small query
    query = "{ __typename }"
    assert post(client, query).status_code == 200

    # Then its parsed form is kept
    assert query in app.extensions["graphql_queries"]["public"]


def test_a_query_longer_than_the_cache_bound_is_not_cached(app, client, admin):
    # Given a valid query of more than 4,096 characters
    query = "{ __typename" + " " * QueryCache.MAX_QUERY_LENGTH + "}"

    # When an admin runs it
    response = post(client, query, ADMIN_GRAPHQL, admin)

    # Then it runs, and is not kept
    assert response.status_code == 200, response.json
    cache = app.extensions["graphql_queries"]["admin"]
    assert query not in cache
    assert cache.cached_length == 0


def test_the_cache_holds_at_most_its_total_length_of_queries(app, client, admin):
    # Given enough distinct queries of 4,000 characters to fill the cache twice
    count = 2 * QueryCache.MAX_TOTAL_LENGTH // 4000 + 1
    queries = [f"{{ a{n}: __typename }}".ljust(4000) for n in range(count)]

    # When an admin runs each
    for query in queries:
        assert post(client, query, ADMIN_GRAPHQL, admin).status_code == 200

    # Then the cache never holds more than its bound, and still holds the latest
    cache = app.extensions["graphql_queries"]["admin"]
    assert 0 < cache.cached_length <= QueryCache.MAX_TOTAL_LENGTH
    assert queries[-1] in cache


def test_a_query_cached_for_admins_meets_the_storefront_limits_anew(client, admin):
    # Given 201 aliased fields, run (and cached) by an admin
    query = aliases(201)
    assert post(client, query, ADMIN_GRAPHQL, admin).status_code == 200

    # When the storefront's endpoint gets the same text
    response = post(client, query)

    # Then the storefront's limit still refuses it
    assert only_message(response) == "The query selects 201 fields; at most 200 are allowed."


def test_a_refused_query_is_refused_again(client):
    # Given a query refused for its depth
    query = nested(9)
    first = post(client, query)

    # When it comes again (from the cache this time)
    second = post(client, query)

    # Then the answer is the same
    assert only_message(second) == only_message(first)
    assert only_message(second) == "The query nests fields 9 deep; at most 8 are allowed."


# --- variables ---------------------------------------------------------------------------


def test_variables_nested_too_deeply_in_a_post_are_400(client, caplog):
    # Given variables nested 1,000 levels deep
    deep = "[" * 1000 + "]" * 1000
    body = '{"query": "{ __typename }", "variables": {"v": ' + deep + "}}"

    # When the storefront's endpoint gets them
    response = client.post(PUBLIC_GRAPHQL, data=body, content_type="application/json")

    # Then it is a 400, and no traceback is logged
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "The request body nests arrays and objects more than 32 levels deep.",
        }
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_variables_nested_too_deeply_in_a_get_are_400(client, caplog):
    # Given variables nested 1,000 levels deep, as a query parameter
    deep = '{"v": ' + "[" * 1000 + "]" * 1000 + "}"

    # When the storefront's endpoint gets them over GET
    response = client.get(
        PUBLIC_GRAPHQL, query_string={"query": "{ __typename }", "variables": deep}
    )

    # Then it is a 400, and no traceback is logged
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "The variables parameter nests arrays and objects more than 32 levels deep.",
        }
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
