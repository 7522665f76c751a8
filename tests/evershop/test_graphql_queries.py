"""EverShop 2.2.1's own customer GraphQL queries run unchanged on the service
and answer what EverShop answers (docs/evershop.md)."""

from __future__ import annotations

import pytest

from tests.evershop.helpers import bearer, new_email
from tests.evershop.queries import customer_queries, runnable

GRID_PAGE = "admin/customerGrid/Grid.jsx"
PASSWORD = "customer-pass-1"


@pytest.fixture(scope="module")
def queries(evershop_cache) -> dict:
    found = customer_queries(evershop_cache)
    # The admin's grid, edit page and custom fields, and the storefront's icon.
    assert len(found) >= 4, sorted(found)
    assert GRID_PAGE in found
    return found


@pytest.fixture
def shop_customer(evershop) -> dict:
    """A customer signed up on EverShop, and its EverShop customer token."""
    email = new_email("queries")
    made = evershop.request(
        "POST", "/api/customers", {"email": email, "password": PASSWORD, "full_name": "Query Me"}
    )
    assert made.status == 200, made.body
    login = evershop.request("POST", "/api/customer/tokens", {"email": email, "password": PASSWORD})
    assert login.status == 200, login.body
    return {**made.body["data"], "token": login.body["data"]["accessToken"]}


def ask_both(evershop, service, path: str, query: str, token: str, variables=None):
    body = {"query": query, "variables": variables or {}}
    theirs = evershop.request("POST", path, body, token=token)
    ours = service.post(path, json=body, headers=bearer(token))
    assert theirs.status == 200, theirs.body
    assert ours.status_code == 200, ours.json
    return theirs.body, ours.json


def test_every_customer_query_of_evershop_answers_the_same_on_the_service(
    evershop, service, evershop_admin_token, queries, shop_customer
):
    filters = [{"key": "keyword", "operation": "eq", "value": shop_customer["email"]}]
    for page, (audience, query) in queries.items():
        path = "/api/admin/graphql" if audience == "admin" else "/api/graphql"
        token = evershop_admin_token if audience == "admin" else shop_customer["token"]
        variables = {"filters": filters} if page == GRID_PAGE else {}

        theirs, ours = ask_both(
            evershop, service, path, runnable(query, shop_customer["uuid"]), token, variables
        )

        assert "errors" not in ours, (page, ours)
        assert ours == theirs, page


def test_storefront_created_at_is_in_evershops_format(evershop, service, shop_customer):
    query = "{ currentCustomer { createdAt { value text } } }"

    theirs, ours = ask_both(evershop, service, "/api/graphql", query, shop_customer["token"])

    assert ours == theirs


def test_the_new_customer_fields_answer_what_evershop_answers(
    evershop, service, evershop_admin_token, shop_customer
):
    query = """query ($id: String) { customer(id: $id) {
        urn addAddressApi updateProfileApi metaData updateMetafieldsApi
        metafields { namespace key type value } } }"""

    theirs, ours = ask_both(
        evershop,
        service,
        "/api/admin/graphql",
        query,
        evershop_admin_token,
        {"id": shop_customer["uuid"]},
    )

    assert ours == theirs
