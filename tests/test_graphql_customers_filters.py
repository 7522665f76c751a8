"""``customers(filters:)`` on the admin GraphQL endpoint (docs/api.md, "GraphQL"): each
filter key and operation, ordering, pages, ``currentFilters``, bad values as
GraphQL errors, and the same answers as the REST list (one query builder)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db import db
from plugins.customer.models import Customer, CustomerGroup

ADMIN_GRAPHQL = "/api/admin/graphql"
CUSTOMERS = """query($filters: [FilterInput]) {
  customers(filters: $filters) {
    items { uuid email }
    total
    currentPage
    currentFilters { key operation value }
  }
}"""


# --- helpers -------------------------------------------------------------------


def f(key: str, operation: str, value) -> dict:
    """One ``FilterInput``."""
    return {"key": key, "operation": operation, "value": value}


def customers(client, headers, *filters, omit_filters: bool = False):
    variables = {} if omit_filters else {"filters": list(filters)}
    return client.post(
        ADMIN_GRAPHQL, json={"query": CUSTOMERS, "variables": variables}, headers=headers
    )


def page_of(response) -> dict:
    assert response.status_code == 200, response.json
    assert "errors" not in response.json, response.json
    return response.json["data"]["customers"]


def emails(response) -> list[str]:
    return [item["email"] for item in page_of(response)["items"]]


def assert_filter_error(response, message: str) -> None:
    """A GraphQL error on ``customers`` (HTTP 200, the field null) saying ``message``."""
    assert response.status_code == 200, response.json
    assert response.json["data"] == {"customers": None}
    (error,) = response.json["errors"]
    assert error["path"] == ["customers"]
    assert error["message"] == message


def set_created_at(app, customer: dict, moment: datetime) -> None:
    with app.app_context():
        row = db.session.get(Customer, customer["customer_id"])
        row.created_at = moment
        db.session.commit()
        db.session.remove()


def add_group(app, name: str) -> int:
    with app.app_context():
        group = CustomerGroup(group_name=name)
        db.session.add(group)
        db.session.commit()
        group_id = group.customer_group_id
        db.session.remove()
    return group_id


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def people(auth) -> dict:
    """Four customers, oldest first; "smith" is in two names and one email."""
    return {
        "john": auth.create_customer(email="john@example.com", full_name="John SMITH"),
        "alice": auth.create_customer(email="alice.smithson@example.org", full_name="Alice Doe"),
        "jane": auth.create_customer(email="Jane@example.com", full_name="Jane Smithers"),
        "bob": auth.create_customer(email="bob@example.net", full_name="Bob Jones", status=0),
    }


@pytest.fixture
def ordered(app, auth) -> None:
    """Three customers whose email, name, status and creation orders all differ."""
    carol = auth.create_customer(email="carol@example.com", full_name="Zed Carol")
    alice = auth.create_customer(email="alice@example.com", full_name="Mia Alice", status=0)
    bob = auth.create_customer(email="bob@example.com", full_name="Abe Bob")
    set_created_at(app, carol, datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC))
    set_created_at(app, alice, datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC))
    set_created_at(app, bob, datetime(2025, 2, 1, 12, 0, 0, tzinfo=UTC))


# --- keys and operations ---------------------------------------------------------


@pytest.mark.parametrize("operation", ["eq", "like"])
def test_keyword_matches_name_or_email_case_insensitively(client, admin, people, operation):
    # When
    response = customers(client, admin, f("keyword", operation, "sMiTh"))

    # Then: newest first, by name (John, Jane) or by email (Alice)
    assert emails(response) == [
        "Jane@example.com",
        "alice.smithson@example.org",
        "john@example.com",
    ]
    assert page_of(response)["total"] == 3


def test_keyword_matches_part_of_an_email_case_insensitively(client, admin, people):
    # When
    response = customers(client, admin, f("keyword", "eq", "EXAMPLE.NET"))

    # Then
    assert emails(response) == ["bob@example.net"]
    assert page_of(response)["total"] == 1


def test_full_name_like_matches_names_only(client, admin, people):
    # When
    response = customers(client, admin, f("full_name", "like", "SMITH"))

    # Then: Alice has "smith" in her email only
    assert emails(response) == ["Jane@example.com", "john@example.com"]
    assert page_of(response)["total"] == 2


def test_full_name_nlike_excludes_matching_names(client, admin, people):
    # When
    response = customers(client, admin, f("full_name", "nlike", "smith"))

    # Then
    assert emails(response) == ["bob@example.net", "alice.smithson@example.org"]
    assert page_of(response)["total"] == 2


def test_email_eq_is_exact_and_case_insensitive(client, admin, people):
    # When
    exact = customers(client, admin, f("email", "eq", "jane@EXAMPLE.COM"))
    partial = customers(client, admin, f("email", "eq", "jane@example"))

    # Then
    assert emails(exact) == ["Jane@example.com"]
    assert page_of(exact)["total"] == 1
    assert emails(partial) == []
    assert page_of(partial)["total"] == 0


def test_email_like_matches_part_of_the_email(client, admin, people):
    # When
    response = customers(client, admin, f("email", "like", "EXAMPLE.COM"))

    # Then
    assert emails(response) == ["Jane@example.com", "john@example.com"]
    assert page_of(response)["total"] == 2


def test_email_nlike_excludes_matching_emails(client, admin, people):
    # When
    response = customers(client, admin, f("email", "nlike", "example.com"))

    # Then
    assert emails(response) == ["bob@example.net", "alice.smithson@example.org"]
    assert page_of(response)["total"] == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", ["bob@example.net"]),
        ("1", ["Jane@example.com", "alice.smithson@example.org", "john@example.com"]),
    ],
    ids=["disabled", "active"],
)
def test_status_filters_by_status(client, admin, people, value, expected):
    # When
    response = customers(client, admin, f("status", "eq", value))

    # Then
    assert emails(response) == expected
    assert page_of(response)["total"] == len(expected)


def test_group_id_filters_by_group(app, client, auth, admin, people):
    # Given: two customers in a second group
    wholesale = add_group(app, "Wholesale")
    auth.create_customer(email="w1@example.com", full_name="W One", group_id=wholesale)
    auth.create_customer(email="w2@example.com", full_name="W Two", group_id=wholesale)

    # When
    in_wholesale = customers(client, admin, f("group_id", "eq", str(wholesale)))
    in_default = customers(client, admin, f("group_id", "eq", "1"))

    # Then
    assert emails(in_wholesale) == ["w2@example.com", "w1@example.com"]
    assert page_of(in_wholesale)["total"] == 2
    assert page_of(in_default)["total"] == 4


def test_filters_combine_with_and(client, admin, people):
    # When
    response = customers(
        client, admin, f("keyword", "like", "smith"), f("email", "like", "example.com")
    )

    # Then
    assert emails(response) == ["Jane@example.com", "john@example.com"]
    assert page_of(response)["total"] == 2


# --- ordering ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ob", "od", "expected"),
    [
        ("email", "asc", ["alice", "bob", "carol"]),
        ("email", "desc", ["carol", "bob", "alice"]),
        ("name", "asc", ["bob", "alice", "carol"]),
        ("name", "desc", ["carol", "alice", "bob"]),
        # equal statuses keep creation order, in the same direction
        ("status", "asc", ["alice", "carol", "bob"]),
        ("status", "desc", ["bob", "carol", "alice"]),
        ("created_at", "asc", ["alice", "bob", "carol"]),
        ("created_at", "desc", ["carol", "bob", "alice"]),
    ],
)
def test_ob_and_od_order_the_customers(client, admin, ordered, ob, od, expected):
    # When
    response = customers(client, admin, f("ob", "eq", ob), f("od", "eq", od))

    # Then
    assert emails(response) == [f"{name}@example.com" for name in expected]


def test_ob_without_od_is_ascending(client, admin, ordered):
    # When
    response = customers(client, admin, f("ob", "eq", "email"))

    # Then
    assert emails(response) == ["alice@example.com", "bob@example.com", "carol@example.com"]


def test_without_ob_newest_customers_come_first(client, admin, ordered):
    # When
    newest_first = customers(client, admin)
    oldest_first = customers(client, admin, f("od", "eq", "asc"))

    # Then: in the order they were created (the ids), whatever created_at says
    assert emails(newest_first) == ["bob@example.com", "alice@example.com", "carol@example.com"]
    assert emails(oldest_first) == ["carol@example.com", "alice@example.com", "bob@example.com"]


# --- pages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "expected"),
    [("1", [4, 3]), ("2", [2, 1]), ("3", [0]), ("4", [])],
)
def test_page_and_limit_cut_the_list(client, auth, admin, page, expected):
    # Given: five customers
    for n in range(5):
        auth.create_customer(email=f"c{n}@example.com", full_name=f"C {n}")

    # When
    response = customers(client, admin, f("page", "eq", page), f("limit", "eq", "2"))

    # Then
    assert emails(response) == [f"c{n}@example.com" for n in expected]
    assert page_of(response)["currentPage"] == int(page)
    assert page_of(response)["total"] == 5


def test_limit_defaults_to_20(client, auth, admin):
    # Given
    for n in range(21):
        auth.create_customer(email=f"c{n:02}@example.com", full_name=f"C {n}")

    # When
    response = customers(client, admin, omit_filters=True)

    # Then
    assert emails(response) == [f"c{n:02}@example.com" for n in range(20, 0, -1)]
    assert page_of(response)["total"] == 21
    assert page_of(response)["currentPage"] == 1


# --- currentFilters ------------------------------------------------------------


def test_current_filters_echo_the_filters_with_page_and_limit_defaults(client, admin, people):
    # When
    response = customers(
        client, admin, f("keyword", "like", "smith"), f("ob", "eq", "email"), f("status", "eq", 1)
    )

    # Then
    assert page_of(response)["currentFilters"] == [
        {"key": "keyword", "operation": "like", "value": "smith"},
        {"key": "ob", "operation": "eq", "value": "email"},
        {"key": "status", "operation": "eq", "value": "1"},
        {"key": "page", "operation": "eq", "value": "1"},
        {"key": "limit", "operation": "eq", "value": "20"},
    ]


def test_current_filters_echo_page_and_limit_as_given(client, admin, people):
    # When
    response = customers(client, admin, f("limit", "eq", "3"), f("page", "eq", "2"))

    # Then: no defaults added
    assert page_of(response)["currentFilters"] == [
        {"key": "limit", "operation": "eq", "value": "3"},
        {"key": "page", "operation": "eq", "value": "2"},
    ]
    assert page_of(response)["currentPage"] == 2


def test_current_filters_without_filters_are_the_defaults(client, admin, people):
    # When
    response = customers(client, admin, omit_filters=True)

    # Then
    assert page_of(response)["currentFilters"] == [
        {"key": "page", "operation": "eq", "value": "1"},
        {"key": "limit", "operation": "eq", "value": "20"},
    ]


# --- bad values ------------------------------------------------------------------


RANGE_1_100 = "Must be greater than or equal to 1 and less than or equal to 100."
KNOWN_KEYS = "email, full_name, group, group_id, keyword, limit, ob, od, page, status"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (f("limit", "eq", "0"), f"Invalid limit: {RANGE_1_100}"),
        (f("limit", "eq", "101"), f"Invalid limit: {RANGE_1_100}"),
        (f("limit", "eq", "x"), "Invalid limit: Not a valid integer."),
        (f("page", "eq", "0"), "Invalid page: Must be greater than or equal to 1."),
        (f("page", "eq", "-1"), "Invalid page: Must be greater than or equal to 1."),
        (f("status", "eq", "5"), "Invalid status: Must be one of: 0, 1."),
        (f("group_id", "eq", "one"), "Invalid group_id: Not a valid integer."),
        (f("ob", "eq", "password"), "Invalid ob: Must be one of: email, name, status, created_at."),
        (f("od", "eq", "up"), "Invalid od: Must be one of: asc, desc."),
        (f("foo", "eq", "bar"), f"Unknown filter 'foo'; use one of: {KNOWN_KEYS}."),
        (f("status", "like", "1"), "Filter 'status' does not take the operation 'like'."),
        (f("email", "in", "a@x.com"), "Filter 'email' does not take the operation 'in'."),
        (f("keyword", "neq", "smith"), "Filter 'keyword' does not take the operation 'neq'."),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-x",
        "page-0",
        "page-negative",
        "status-5",
        "group-id-word",
        "ob-password",
        "od-up",
        "unknown-key",
        "status-like",
        "email-in",
        "keyword-neq",
    ],
)
def test_bad_filter_is_a_graphql_error_not_a_500(client, admin, people, given, message):
    # When
    response = customers(client, admin, given)

    # Then
    assert_filter_error(response, message)


@pytest.mark.parametrize("key", ["keyword", "email", "status", "limit", "page", "ob"])
def test_null_value_where_a_value_is_needed_is_a_graphql_error(client, admin, people, key):
    # When
    response = customers(client, admin, f(key, "eq", None))

    # Then
    assert_filter_error(response, f"Invalid {key}: Field may not be null.")


def test_filter_operation_outside_the_enum_is_400(client, admin, people):
    # When
    response = customers(client, admin, f("keyword", "contains", "smith"))

    # Then: the variables do not match the schema, so nothing runs
    assert response.status_code == 400, response.json
    assert response.json.get("data") is None
    (error,) = response.json["errors"]
    assert error["message"] == (
        "Variable '$filters' has invalid value at [0].operation:"
        " Value 'contains' does not exist in 'FilterOperation' enum."
    )


# --- literal wildcards ------------------------------------------------------------


def test_percent_in_a_filter_matches_literally(client, auth, admin):
    # Given
    auth.create_customer(email="cotton@example.com", full_name="100% Cotton")
    auth.create_customer(email="wool@example.com", full_name="1000 Wool")

    # When
    by_keyword = customers(client, admin, f("keyword", "like", "100%"))
    by_name = customers(client, admin, f("full_name", "like", "0%"))

    # Then
    assert emails(by_keyword) == ["cotton@example.com"]
    assert emails(by_name) == ["cotton@example.com"]


def test_underscore_in_a_filter_matches_literally(client, auth, admin):
    # Given
    auth.create_customer(email="a_b@example.com", full_name="Under Score")
    auth.create_customer(email="axb@example.com", full_name="Ex Ample")

    # When
    by_keyword = customers(client, admin, f("keyword", "like", "a_b"))
    by_email = customers(client, admin, f("email", "like", "a_b@"))
    excluded = customers(client, admin, f("email", "nlike", "a_b"))

    # Then
    assert emails(by_keyword) == ["a_b@example.com"]
    assert emails(by_email) == ["a_b@example.com"]
    assert emails(excluded) == ["axb@example.com"]


# --- one query builder for REST and GraphQL ------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"keyword": "smith"},
        {"full_name": "a", "ob": "created_at", "limit": "2", "page": "2"},
        {"status": "1", "ob": "name", "od": "desc"},
        {"email": "JANE@example.com"},
        {"ob": "status", "od": "asc", "limit": "3"},
        {"od": "asc"},
    ],
    ids=["none", "keyword", "name-created-page-2", "status-name-desc", "email", "status", "od"],
)
def test_rest_list_and_graphql_return_the_same_customers_in_the_same_order(
    app, client, auth, admin, people, params
):
    # Given: two more customers, created at the same moment as one of the others
    extra = [
        auth.create_customer(email="amy@example.com", full_name="Amy Smith"),
        auth.create_customer(email="zoe@example.com", full_name="Zoe Park", status=0),
    ]
    moment = datetime(2025, 6, 1, 9, 0, 0, tzinfo=UTC)
    for customer in [people["alice"], *extra]:
        set_created_at(app, customer, moment)
    rest = client.get("/api/customers", query_string=params, headers=admin)
    assert rest.status_code == 200, rest.json

    # When
    graphql = customers(
        client,
        admin,
        *[f(key, "like" if key == "full_name" else "eq", value) for key, value in params.items()],
    )

    # Then
    page = page_of(graphql)
    assert [item["uuid"] for item in page["items"]] == [
        item["uuid"] for item in rest.json["data"]["items"]
    ]
    assert page["items"], "every case selects at least one customer"
    assert page["total"] == rest.json["data"]["total"]
    assert page["currentPage"] == rest.json["data"]["currentPage"]
