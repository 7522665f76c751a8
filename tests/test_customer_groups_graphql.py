"""Customer groups on the admin GraphQL endpoint (docs/api.md, "GraphQL"):
``customerGroups(filters)`` and ``customerGroup(id)`` with EverShop's names,
``customerCount`` loaded for every group of an answer in one query, and
customers filtered by group."""

from __future__ import annotations

import pytest

from tests.helpers import count_statements

ADMIN_GRAPHQL = "/api/admin/graphql"
GROUPS = """query($filters: [FilterInput]) {
  customerGroups(filters: $filters) {
    items { customerGroupId uuid groupName customerCount }
    total
    currentPage
    currentFilters { key operation value }
  }
}"""
ONE = "query($id: ID) { customerGroup(id: $id) { customerGroupId uuid groupName customerCount } }"


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


def create(client, admin, name: str) -> dict:
    response = client.post("/api/customer-groups", json={"group_name": name}, headers=admin)
    assert response.status_code == 201, response.json
    return response.json["data"]


def ask(client, headers, query: str, **variables):
    return client.post(
        ADMIN_GRAPHQL, json={"query": query, "variables": variables}, headers=headers
    )


def f(key: str, operation: str, value) -> dict:
    return {"key": key, "operation": operation, "value": value}


def data(response) -> dict:
    assert response.status_code == 200, response.json
    assert "errors" not in response.json, response.json
    return response.json["data"]


def as_graphql(group: dict, count: int) -> dict:
    return {
        "customerGroupId": group["customer_group_id"],
        "uuid": group["uuid"],
        "groupName": group["group_name"],
        "customerCount": count,
    }


def test_customer_groups_lists_every_group_with_its_customer_count(client, auth, admin):
    wholesale = create(client, admin, "Wholesale")
    auth.create_customer(email="a@example.com", group_id=wholesale["customer_group_id"])
    auth.create_customer(email="b@example.com")
    default = client.get("/api/customer-groups", headers=admin).json["data"]["items"][0]

    page = data(ask(client, admin, GROUPS))["customerGroups"]

    assert page == {
        "items": [as_graphql(default, 1), as_graphql(wholesale, 1)],
        "total": 2,
        "currentPage": 1,
        "currentFilters": [
            {"key": "page", "operation": "eq", "value": "1"},
            {"key": "limit", "operation": "eq", "value": "20"},
        ],
    }


def test_customer_groups_filters_by_name_orders_and_pages(client, admin):
    for name in ("Wholesale", "Retail Sale", "Staff"):
        create(client, admin, name)

    page = data(
        ask(
            client,
            admin,
            GROUPS,
            filters=[f("name", "like", "SALE"), f("ob", "eq", "name"), f("limit", "eq", "1")],
        )
    )["customerGroups"]

    assert [item["groupName"] for item in page["items"]] == ["Retail Sale"]
    assert page["total"] == 2
    assert page["currentFilters"] == [
        {"key": "name", "operation": "like", "value": "SALE"},
        {"key": "ob", "operation": "eq", "value": "name"},
        {"key": "limit", "operation": "eq", "value": "1"},
        {"key": "page", "operation": "eq", "value": "1"},
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            f("colour", "eq", "red"),
            "Unknown filter 'colour'; use one of: limit, name, ob, od, page.",
        ),
        (f("name", "eq", "x"), "Filter 'name' does not take the operation 'eq'."),
        (f("ob", "eq", "uuid"), "Invalid ob: Must be one of: name, created_at."),
        (
            f("limit", "eq", "500"),
            "Invalid limit: Must be greater than or equal to 1 and less than or equal to 100.",
        ),
    ],
    ids=["unknown-key", "name-eq", "ob-uuid", "limit-500"],
)
def test_customer_groups_with_a_bad_filter_is_an_error(client, admin, given, message):
    response = ask(client, admin, GROUPS, filters=[given])

    assert response.status_code == 200
    assert response.json["data"] == {"customerGroups": None}
    (error,) = response.json["errors"]
    assert (error["message"], error["path"]) == (message, ["customerGroups"])


def test_customer_group_is_found_by_its_id_or_its_uuid(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(group_id=group["customer_group_id"])

    by_id = data(ask(client, admin, ONE, id=str(group["customer_group_id"])))["customerGroup"]
    by_uuid = data(ask(client, admin, ONE, id=group["uuid"].upper()))["customerGroup"]
    by_int = data(
        ask(client, admin, f"{{ customerGroup(id: {group['customer_group_id']}) {{ uuid }} }}")
    )["customerGroup"]

    assert by_id == by_uuid == as_graphql(group, 1)
    assert by_int == {"uuid": group["uuid"]}


@pytest.mark.parametrize(
    "given", ["00000000-0000-4000-8000-000000000000", "999999", "99999999999", "wholesale", ""]
)
def test_customer_group_that_does_not_exist_is_null(client, admin, given):
    assert data(ask(client, admin, ONE, id=given)) == {"customerGroup": None}


def test_customer_group_without_an_id_is_null(client, admin):
    assert data(ask(client, admin, "{ customerGroup { uuid } }")) == {"customerGroup": None}


def test_customer_counts_cost_one_query_whatever_the_number_of_groups(app, client, auth, admin):
    small = [create(client, admin, f"Small {n}") for n in range(2)]
    auth.create_customer(email="a@example.com", group_id=small[0]["customer_group_id"])
    _, few = count_statements(app, lambda: ask(client, admin, GROUPS))
    for n in range(8):
        group = create(client, admin, f"More {n}")
        auth.create_customer(email=f"m{n}@example.com", group_id=group["customer_group_id"])

    response, many = count_statements(app, lambda: ask(client, admin, GROUPS))

    assert len(data(response)["customerGroups"]["items"]) == 11
    assert len(many) == len(few)
    assert sum("GROUP BY" in statement for statement in many) == 1


def test_customers_groups_show_their_customer_count(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="b@example.com", group_id=group["customer_group_id"])

    items = data(
        ask(client, admin, "{ customers { items { email group { groupName customerCount } } } }")
    )["customers"]["items"]

    assert items == [
        {"email": "b@example.com", "group": {"groupName": "Wholesale", "customerCount": 2}},
        {"email": "a@example.com", "group": {"groupName": "Wholesale", "customerCount": 2}},
    ]


def test_customers_filter_by_group_uuid(client, auth, admin):
    group = create(client, admin, "Wholesale")
    auth.create_customer(email="a@example.com", group_id=group["customer_group_id"])
    auth.create_customer(email="b@example.com")
    query = (
        "query($filters: [FilterInput]) { customers(filters: $filters) { total items { email } } }"
    )

    by_uuid = data(ask(client, admin, query, filters=[f("group", "eq", group["uuid"])]))
    by_id = data(
        ask(client, admin, query, filters=[f("group_id", "eq", str(group["customer_group_id"]))])
    )

    assert by_uuid == by_id == {"customers": {"total": 1, "items": [{"email": "a@example.com"}]}}


def test_customers_filter_by_a_malformed_group_uuid_is_an_error(client, admin):
    query = "query($filters: [FilterInput]) { customers(filters: $filters) { total } }"

    response = ask(client, admin, query, filters=[f("group", "eq", "wholesale")])

    assert response.json["data"] == {"customers": None}
    assert response.json["errors"][0]["message"] == "Invalid group: Not a valid uuid."


def test_customer_groups_are_not_on_the_storefront_endpoint(client, auth):
    auth.create_customer()

    response = client.post(
        "/api/graphql",
        json={"query": "{ customerGroups { total } }"},
        headers=auth.customer_headers(),
    )

    assert response.status_code == 400
    assert "customerGroups" in response.json["errors"][0]["message"]


def test_customer_groups_with_a_customer_token_is_403(client, auth):
    auth.create_customer()

    response = client.post(
        ADMIN_GRAPHQL,
        json={"query": "{ customerGroups { total } }"},
        headers=auth.customer_headers(),
    )

    assert response.status_code == 403
