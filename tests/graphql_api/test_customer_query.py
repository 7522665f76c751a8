"""GraphQL: the admin endpoint's ``customer(id:)``, every field with exact
values, and the endpoint read through GET as through POST."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.db import db
from tests.graphql_api.conftest import (
    ADMIN_GRAPHQL,
    CUSTOMER_BY_ID,
    CUSTOMER_FIELDS,
    UNKNOWN_UUID,
    add_address,
    add_group,
    expected_date,
    post,
    read_customer,
    set_timestamps,
)
from tests.helpers import count_statements

# --- customer(id:) -------------------------------------------------------------


def test_admin_customer_returns_every_field_with_exact_values(app, client, auth, admin):
    # Given: a customer in a group of its own with two addresses
    group = add_group(app, "Wholesale")
    created = auth.create_customer(
        email="ann.lee@example.com",
        full_name="Ann Lee",
        status=0,
        group_id=group["customerGroupId"],
    )
    home = add_address(
        client,
        admin,
        created,
        full_name="Ann Lee",
        telephone="+1 212 555 0100",
        address_1="1 Broadway",
        address_2="Floor 2",
        city="New York",
        province="NY",
        country="us",
        postcode="10004",
    )
    office = add_address(
        client,
        admin,
        created,
        full_name="Ann Lee (office)",
        address_1="5 Rue Nowhere",
        city="Lyon",
        province="Zzz",
        country="FR",
    )
    stored = read_customer(client, admin, created)
    uuid = created["uuid"]

    # When
    response = post(client, CUSTOMER_BY_ID, {"id": uuid}, admin)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customer": {
                "customerId": created["customer_id"],
                "uuid": uuid,
                "status": 0,
                "email": "ann.lee@example.com",
                "fullName": "Ann Lee",
                "groupId": group["customerGroupId"],
                "group": group,
                "createdAt": expected_date(stored["created_at"]),
                "updatedAt": expected_date(stored["updated_at"]),
                "editUrl": f"/admin/customers/edit/{uuid}",
                "updateApi": f"/api/customers/{uuid}",
                "deleteApi": f"/api/customers/{uuid}",
                "addresses": [
                    {
                        "customerAddressId": home["customer_address_id"],
                        "uuid": home["uuid"],
                        "fullName": "Ann Lee",
                        "telephone": "+1 212 555 0100",
                        "address1": "1 Broadway",
                        "address2": "Floor 2",
                        "city": "New York",
                        "province": {"code": "NY", "name": "New York", "countryCode": "US"},
                        "country": {"code": "US", "name": "United States"},
                        "postcode": "10004",
                        "isDefault": True,
                        "updateApi": f"/api/customers/{uuid}/addresses/{home['uuid']}",
                        "deleteApi": f"/api/customers/{uuid}/addresses/{home['uuid']}",
                    },
                    {
                        "customerAddressId": office["customer_address_id"],
                        "uuid": office["uuid"],
                        "fullName": "Ann Lee (office)",
                        "telephone": None,
                        "address1": "5 Rue Nowhere",
                        "address2": None,
                        "city": "Lyon",
                        "province": {"code": "Zzz", "name": "Zzz", "countryCode": "FR"},
                        "country": {"code": "FR", "name": "France"},
                        "postcode": None,
                        "isDefault": False,
                        "updateApi": f"/api/customers/{uuid}/addresses/{office['uuid']}",
                        "deleteApi": f"/api/customers/{uuid}/addresses/{office['uuid']}",
                    },
                ],
            }
        }
    }


def test_customer_dates_are_epoch_milliseconds_and_a_short_date(app, client, admin, customer):
    # Given: known creation and update moments
    set_timestamps(
        app,
        customer,
        created_at=datetime(2026, 11, 27, 8, 15, 30, tzinfo=UTC),
        updated_at=datetime(2027, 3, 5, 23, 59, 59, tzinfo=UTC),
    )

    # When
    response = post(
        client,
        "query($id: String) {"
        " customer(id: $id) { createdAt { value text } updatedAt { value text } } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customer": {
                "createdAt": {"value": "1795767330000", "text": "Nov 27, 2026"},
                "updatedAt": {"value": "1804291199000", "text": "Mar 5, 2027"},
            }
        }
    }


def test_customer_without_addresses_has_an_empty_address_list(client, admin, customer):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid addresses { uuid } } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customer": {"uuid": customer["uuid"], "addresses": []}}}


def test_customer_whose_group_was_deleted_has_no_group(app, client, auth, admin):
    # Given: the customer's group is removed (the column is set to null)
    group = add_group(app, "Seasonal")
    created = auth.create_customer(group_id=group["customerGroupId"])
    with app.app_context():
        db.session.execute(
            sa.text("DELETE FROM customer_group WHERE customer_group_id = :id"),
            {"id": group["customerGroupId"]},
        )
        db.session.commit()
        db.session.remove()

    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid groupId group { groupName } } }",
        {"id": created["uuid"]},
        admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": created["uuid"], "groupId": None, "group": None}}
    }


def test_customer_with_its_group_reads_the_group_in_the_customers_own_query(
    app, client, auth, admin
):
    # Given: a customer in a group
    group = add_group(app, "Wholesale")
    created = auth.create_customer(group_id=group["customerGroupId"])
    query = "query($id: String) { customer(id: $id) { uuid group { groupName customerGroupId } } }"
    post(client, query, {"id": created["uuid"]}, admin)  # the token's first use is cached

    # When
    response, statements = count_statements(
        app, lambda: post(client, query, {"id": created["uuid"]}, admin)
    )

    # Then: the admin's row, then the customer with its group; nothing of customer_group alone
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {
            "customer": {
                "uuid": created["uuid"],
                "group": {"groupName": "Wholesale", "customerGroupId": group["customerGroupId"]},
            }
        }
    }
    reads = [sql for sql in statements if sql.lstrip().startswith("SELECT")]
    assert len(reads) == 2, statements
    assert "JOIN customer_group" in reads[1]


@pytest.mark.parametrize("fields", ["uuid", "uuid group { groupName }"])
def test_customer_read_reads_no_password_hash(app, client, auth, admin, fields):
    # Neither the admin's (its token's check) nor the customer's (only presented).
    created = auth.create_customer()
    query = "query($id: String) { customer(id: $id) { " + fields + " } }"

    response, statements = count_statements(
        app, lambda: post(client, query, {"id": created["uuid"]}, admin)
    )

    assert response.json["data"]["customer"]["uuid"] == created["uuid"]
    reads = [sql for sql in statements if sql.lstrip().startswith("SELECT")]
    assert any("FROM admin_user" in sql for sql in reads), statements
    assert any("FROM customer" in sql for sql in reads), statements
    assert not any(re.search(r"\.password\b", sql) for sql in reads), statements


def test_customer_without_its_group_in_the_query_does_not_read_groups(app, client, auth, admin):
    created = auth.create_customer()

    response, statements = count_statements(
        app,
        lambda: post(
            client,
            "query($id: String) { customer(id: $id) { uuid } }",
            {"id": created["uuid"]},
            admin,
        ),
    )

    assert response.json == {"data": {"customer": {"uuid": created["uuid"]}}}
    assert not any("customer_group" in sql for sql in statements), statements


@pytest.mark.parametrize(
    "spell",
    [
        lambda u: u.upper(),
        lambda u: u.replace("-", ""),
        lambda u: u.replace("-", "").upper(),
    ],
    ids=["upper-case", "32-hex-digits", "32-hex-digits-upper-case"],
)
def test_customer_accepts_the_uuid_in_every_path_form(client, admin, customer, spell):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { uuid email } }",
        {"id": spell(customer["uuid"])},
        admin,
    )

    # Then: the canonical form comes back
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": customer["uuid"], "email": "john.smith@example.com"}}
    }


@pytest.mark.parametrize(
    "given_id",
    [
        UNKNOWN_UUID,
        "not-a-uuid",
        "",
        "12345",
        "0000000000004000800000000000000000",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        "' OR 1=1 --",
        None,
    ],
    ids=["unknown", "words", "empty", "number", "too-long", "not-hex", "sql", "null"],
)
def test_customer_with_an_unknown_or_malformed_id_is_null_without_errors(
    client, admin, customer, given_id
):
    # When
    response = post(
        client, "query($id: String) { customer(id: $id) { uuid } }", {"id": given_id}, admin
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customer": None}}


def test_customer_with_an_unknown_id_and_its_group_asked_for_is_null(client, admin, customer):
    query = "query($id: String) { customer(id: $id) { uuid group { groupName } } }"

    response = post(client, query, {"id": UNKNOWN_UUID}, admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"customer": None}}


def test_customer_never_exposes_the_password_hash(client, admin, customer):
    # When
    response = post(
        client,
        "query($id: String) { customer(id: $id) { password } }",
        {"id": customer["uuid"]},
        admin,
    )

    # Then: there is no such field
    assert response.status_code == 400, response.json
    assert set(response.json) == {"errors"}
    assert response.json["errors"][0]["message"] == (
        "Cannot query field 'password' on type 'Customer'."
    )
    assert "$2b$" not in response.get_data(as_text=True)


# --- GET -----------------------------------------------------------------------


def test_get_admin_graphql_answers_as_post_does(client, auth, admin, customer):
    # Given
    add_address(
        client, admin, customer, full_name="J S", address_1="1 A St", city="Town", country="US"
    )
    query = f'{{ customer(id: "{customer["uuid"]}") {{ {CUSTOMER_FIELDS} }} }}'
    expected = post(client, CUSTOMER_BY_ID, {"id": customer["uuid"]}, admin)
    assert expected.status_code == 200, expected.json

    # When
    response = client.get(ADMIN_GRAPHQL, query_string={"query": query}, headers=admin)

    # Then
    assert response.status_code == 200, response.json
    assert response.json == expected.json
    assert response.json["data"]["customer"]["uuid"] == customer["uuid"]


def test_get_admin_graphql_reads_variables_from_the_query_string(client, admin, customer):
    # When
    response = client.get(
        ADMIN_GRAPHQL,
        query_string={
            "query": "query($id: String) { customer(id: $id) { uuid fullName } }",
            "variables": json.dumps({"id": customer["uuid"]}),
        },
        headers=admin,
    )

    # Then
    assert response.status_code == 200, response.json
    assert response.json == {
        "data": {"customer": {"uuid": customer["uuid"], "fullName": "John Smith"}}
    }


def test_get_admin_graphql_with_malformed_variables_is_400(client, admin, customer):
    # When
    response = client.get(
        ADMIN_GRAPHQL,
        query_string={
            "query": "query($id: String) { customer(id: $id) { uuid } }",
            "variables": '{"id": ',
        },
        headers=admin,
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "The variables parameter is not valid JSON."}
    }


def test_get_admin_graphql_refuses_a_mutation(client, admin):
    # When
    response = client.get(
        ADMIN_GRAPHQL, query_string={"query": "mutation { anything }"}, headers=admin
    )

    # Then
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {"status": 400, "message": "Mutations are not accepted over GET."}
    }
