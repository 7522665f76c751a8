"""The total of a customer list: ``total``, ``totalExact`` and ``hasMore``
(docs/api.md, "Counting")."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_config
from tests.helpers import count_statements, execute

GRAPHQL_PAGE = """query($filters: [FilterInput]) {
  customers(filters: $filters) { items { email } total totalExact hasMore currentPage }
}"""


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


def make(auth, count: int, name: str = "Customer") -> None:
    for n in range(count):
        auth.create_customer(email=f"c{n}@example.com", full_name=f"{name} {n}")


def listing(client, admin, **params) -> dict:
    response = client.get("/api/customers", query_string=params, headers=admin)
    assert response.status_code == 200, response.json
    return response.json["data"]


def graphql_page(client, admin, filters: list[dict]) -> dict:
    response = client.post(
        "/api/admin/graphql",
        json={"query": GRAPHQL_PAGE, "variables": {"filters": filters}},
        headers=admin,
    )
    assert response.status_code == 200, response.json
    return response.json["data"]["customers"]


def totals(page: dict) -> tuple:
    return page["total"], page["totalExact"], page["hasMore"]


def on_postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_a_page_followed_by_another_says_so(client, admin, auth):
    make(auth, 5)

    page = listing(client, admin, limit=2)

    assert len(page["items"]) == 2
    assert totals(page) == (5, True, True)


def test_the_last_full_page_has_no_more(client, admin, auth):
    make(auth, 4)

    page = listing(client, admin, limit=2, page=2)

    assert len(page["items"]) == 2
    assert totals(page) == (4, True, False)


def test_a_page_that_shows_the_end_runs_no_count(app, client, admin, auth):
    make(auth, 3)

    response, statements = count_statements(
        app, lambda: client.get("/api/customers", query_string={"limit": 5}, headers=admin)
    )

    assert response.status_code == 200, response.json
    assert totals(response.json["data"]) == (3, True, False)
    assert statements
    assert not [sql for sql in statements if "count(" in sql.lower()], statements


def test_a_page_past_the_end_counts_the_total(client, admin, auth):
    make(auth, 3)

    page = listing(client, admin, limit=2, page=5)

    assert page["items"] == []
    assert totals(page) == (3, True, False)


def test_a_filtered_total_stops_at_the_count_limit(app, client, admin, auth):
    app.config["LIST_COUNT_LIMIT"] = 3
    make(auth, 5, name="Okafor")
    auth.create_customer(email="other@example.com", full_name="Someone Else")

    page = listing(client, admin, keyword="okafor", limit=2)

    assert len(page["items"]) == 2
    assert totals(page) == (3, False, True)


def test_a_filtered_total_past_the_count_limit_still_covers_the_page_shown(
    app, client, admin, auth
):
    app.config["LIST_COUNT_LIMIT"] = 3
    make(auth, 6, name="Okafor")

    page = listing(client, admin, keyword="okafor", limit=2, page=2)

    # Page 2 shows customers 3 and 4 and another page follows: at least 5.
    assert len(page["items"]) == 2
    assert totals(page) == (5, False, True)


def test_a_count_limit_of_0_counts_every_match(app, client, admin, auth):
    app.config["LIST_COUNT_LIMIT"] = 0
    make(auth, 5, name="Okafor")

    page = listing(client, admin, keyword="okafor", limit=2)

    assert totals(page) == (5, True, True)


def test_an_unfiltered_total_past_the_count_limit_is_estimated_on_postgresql(
    app, client, admin, auth
):
    app.config["LIST_COUNT_LIMIT"] = 3
    make(auth, 6)
    if on_postgresql(app):
        # The estimate comes from the table's statistics.
        execute(app, "ANALYZE customer")

    page = listing(client, admin, limit=2)

    if on_postgresql(app):
        assert totals(page) == (6, False, True)
    else:
        # SQLite keeps no estimate: the count stops at the limit.
        assert totals(page) == (3, False, True)


def test_an_unfiltered_total_under_the_count_limit_is_exact(app, client, admin, auth):
    app.config["LIST_COUNT_LIMIT"] = 10
    make(auth, 6)
    if on_postgresql(app):
        execute(app, "ANALYZE customer")

    page = listing(client, admin, limit=2)

    assert totals(page) == (6, True, True)


def test_graphql_customers_carry_total_exact_and_has_more(app, client, admin, auth):
    app.config["LIST_COUNT_LIMIT"] = 3
    make(auth, 5, name="Okafor")
    filters = [
        {"key": "keyword", "operation": "eq", "value": "okafor"},
        {"key": "limit", "operation": "eq", "value": "2"},
    ]

    page = graphql_page(client, admin, filters)

    assert len(page["items"]) == 2
    assert totals(page) == (3, False, True)


def test_graphql_customers_last_page_has_no_more(client, admin, auth):
    make(auth, 3)
    filters = [{"key": "limit", "operation": "eq", "value": "5"}]

    page = graphql_page(client, admin, filters)

    assert totals(page) == (3, True, False)


@pytest.mark.parametrize("value", ["-1", "many"])
def test_a_bad_list_count_limit_stops_start_up(tmp_path, value):
    with pytest.raises(ConfigError, match="LIST_COUNT_LIMIT"):
        load_config(str(tmp_path), {"LIST_COUNT_LIMIT": value})
