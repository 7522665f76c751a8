"""GraphQL: the error convention: syntax errors, unknown fields, a missing
query, a body that is not JSON, and a resolver's unexpected error."""

from __future__ import annotations

import pytest

from tests.graphql_api.conftest import (
    ADMIN_GRAPHQL,
    NO_QUERY,
    post,
)
from tests.plugins import graphql_extension

# --- the GraphQL error convention ------------------------------------------------


def test_graphql_syntax_error_is_400_with_a_located_error(client, admin):
    # When: the closing brace is missing
    response = post(client, "{ customers { total }", headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    (error,) = response.json["errors"]
    assert error["message"].startswith("Syntax Error:")
    assert error["locations"] == [{"line": 1, "column": 22}]


def test_graphql_unknown_field_is_400(client, admin):
    # When
    response = post(client, "{ customers { total nonsense } }", headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    (error,) = response.json["errors"]
    assert error["message"] == "Cannot query field 'nonsense' on type 'CustomerCollection'."
    assert error["locations"] == [{"line": 1, "column": 21}]


@pytest.mark.parametrize(
    "body",
    [None, {}, {"query": ""}, {"query": "   "}, {"query": None}, {"variables": {}}],
    ids=["no-body", "empty-object", "empty-query", "blank-query", "null-query", "only-variables"],
)
def test_graphql_without_a_query_is_400(client, admin, body):
    # When
    if body is None:
        response = client.post(ADMIN_GRAPHQL, headers=admin)
    else:
        response = client.post(ADMIN_GRAPHQL, json=body, headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert response.json == NO_QUERY


def test_graphql_get_without_a_query_is_400(client, admin):
    # When
    response = client.get(ADMIN_GRAPHQL, headers=admin)

    # Then
    assert response.status_code == 400, response.json
    assert response.json == NO_QUERY


def test_graphql_body_that_is_not_json_is_400(client, admin):
    # When
    response = client.post(
        ADMIN_GRAPHQL,
        data='{"query": ',
        headers={**admin, "Content-Type": "application/json"},
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "The request body is not valid JSON."}
    }


def test_graphql_unexpected_resolver_error_is_generic_with_the_request_id(
    client, admin, ext_client, caplog
):
    # When
    response = ext_client.post(
        ADMIN_GRAPHQL,
        json={"query": "{ loyaltyReport }"},
        headers={**admin, "X-Request-ID": "req-graphql-fault-1"},
    )

    # Then: the error says nothing of the exception, only how to report it
    assert response.status_code == 200, response.json
    assert response.json["data"] == {"loyaltyReport": None}
    (error,) = response.json["errors"]
    assert error["message"] == (
        "An unexpected error occurred. Quote request id req-graphql-fault-1 when reporting it."
    )
    assert error["path"] == ["loyaltyReport"]
    assert graphql_extension.REPORT_FAILURE not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == "req-graphql-fault-1"
    # and the operator's log has the real cause under the same request id
    logged = [r for r in caplog.records if "req-graphql-fault-1" in r.getMessage()]
    assert logged
    assert any(
        r.exc_info and str(r.exc_info[1]) == graphql_extension.REPORT_FAILURE for r in logged
    )
