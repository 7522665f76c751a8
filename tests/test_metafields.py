"""A customer's metafields (docs/api.md, "Metafields"): EverShop's
``meta_data`` read and written through REST and GraphQL, validated, limited in
size, and kept apart from the plugins' fields stored in the same column."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.db import db
from plugins.customer.metafields import MAX_BYTES

VALUES = {"custom": {"nickname": "Bob", "tags": ["vip", 3], "extra": {"a": None}}}
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


def stored(app, customer: dict) -> dict:
    with app.app_context():
        value = db.session.scalar(
            sa.text("SELECT meta_data FROM customer WHERE customer_id = :id"),
            {"id": customer["customer_id"]},
        )
        db.session.remove()
    return value if isinstance(value, dict) else json.loads(value)


def metafields_url(customer: dict) -> str:
    return f"/api/customers/{customer['uuid']}/metafields"


def assert_refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"]["status"] == status
    assert field in response.json["error"]["message"]


# --- REST meta_data --------------------------------------------------------------------


def test_a_new_customer_has_empty_meta_data(customer):
    assert customer["meta_data"] == {}


def test_admin_creates_a_customer_with_meta_data(app, auth):
    customer = auth.create_customer(meta_data=VALUES)

    assert customer["meta_data"] == VALUES
    assert stored(app, customer) == VALUES


def test_admin_patch_replaces_meta_data_and_is_an_update(app, client, admin, customer, events):
    client.patch(f"/api/customers/{customer['uuid']}", json={"meta_data": VALUES}, headers=admin)

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"meta_data": {"other": {"k": 1}}},
        headers=admin,
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["meta_data"] == {"other": {"k": 1}}
    assert stored(app, customer) == {"other": {"k": 1}}
    assert [name for name, _ in events()][-1] == "customer_updated"


def test_patch_with_the_same_meta_data_writes_nothing(client, admin, auth, events):
    customer = auth.create_customer(meta_data=VALUES)
    before = len(events())

    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"meta_data": VALUES}, headers=admin
    )

    assert response.status_code == 200, response.json
    assert len(events()) == before


def test_reads_show_meta_data(client, admin, auth):
    customer = auth.create_customer(meta_data=VALUES)

    response = client.get(f"/api/customers/{customer['uuid']}", headers=admin)

    assert response.json["data"]["meta_data"] == VALUES


@pytest.mark.parametrize(
    "value",
    [None, "text", 3, ["a"], {"custom": "flat"}, {"custom": ["a"]}, {"": {"k": 1}}],
    ids=["null", "string", "number", "array", "flat-value", "array-value", "empty-namespace"],
)
def test_meta_data_of_the_wrong_shape_is_a_400(client, admin, customer, value):
    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"meta_data": value}, headers=admin
    )

    assert_refused(response, 400, "meta_data")


def test_meta_data_with_an_empty_key_is_a_400(client, admin, customer):
    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"meta_data": {"ns": {" ": 1}}}, headers=admin
    )

    assert_refused(response, 400, "meta_data.ns")


def test_meta_data_over_16_kib_is_a_413_saying_the_limit(app, client, admin, customer):
    value = {"custom": {"blob": "x" * MAX_BYTES}}

    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"meta_data": value}, headers=admin
    )

    assert_refused(response, 413, str(MAX_BYTES))
    assert stored(app, customer) == {}


def test_meta_data_of_exactly_16_kib_is_accepted(client, admin, customer):
    overhead = len(json.dumps({"c": {"b": ""}}, separators=(",", ":")))
    value = {"c": {"b": "x" * (MAX_BYTES - overhead)}}

    response = client.patch(
        f"/api/customers/{customer['uuid']}", json={"meta_data": value}, headers=admin
    )

    assert response.status_code == 200, response.json


def test_sign_up_with_meta_data_is_a_403(client):
    body = {"email": "a@example.com", "password": "a-long-password", "full_name": "A"}

    response = client.post("/api/customers", json={**body, "meta_data": {}})

    assert_refused(response, 403, "meta_data")


def test_customer_cannot_set_its_own_meta_data(client, auth, customer):
    response = client.patch(
        "/api/customers/me", json={"meta_data": {}}, headers=auth.customer_headers()
    )

    assert_refused(response, 403, "meta_data")


# --- PATCH /api/customers/<uuid>/metafields (EverShop's admin) -------------------------


def test_metafields_request_replaces_them_and_answers_meta_data(app, client, admin, customer):
    response = client.patch(metafields_url(customer), json={"metafields": VALUES}, headers=admin)

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"metaData": VALUES}}
    assert stored(app, customer) == VALUES


def test_metafields_request_without_metafields_is_a_400(client, admin, customer):
    response = client.patch(metafields_url(customer), json={}, headers=admin)

    assert_refused(response, 400, "metafields")


def test_metafields_request_with_other_fields_is_a_400(client, admin, customer):
    response = client.patch(
        metafields_url(customer), json={"metafields": {}, "meta_data": {}}, headers=admin
    )

    assert_refused(response, 400, "meta_data")


def test_metafields_request_that_is_not_an_object_is_a_400(client, admin, customer):
    response = client.patch(metafields_url(customer), json={"metafields": "x"}, headers=admin)

    assert_refused(response, 400, "metafields")


def test_metafields_request_with_malformed_json_is_a_400(client, admin, customer):
    response = client.patch(
        metafields_url(customer),
        data='{"metafields": ',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.json


def test_metafields_request_over_the_limit_is_a_413(client, admin, customer):
    body = {"metafields": {"custom": {"blob": "x" * MAX_BYTES}}}

    response = client.patch(metafields_url(customer), json=body, headers=admin)

    assert_refused(response, 413, "metafields")


def test_metafields_request_for_an_unknown_customer_is_a_404(client, admin):
    response = client.patch(
        f"/api/customers/{UNKNOWN_UUID}/metafields", json={"metafields": {}}, headers=admin
    )

    assert response.status_code == 404, response.json


def test_metafields_request_with_a_customer_token_is_a_403(app, client, auth, customer):
    response = client.patch(
        metafields_url(customer), json={"metafields": VALUES}, headers=auth.customer_headers()
    )

    assert response.status_code == 403, response.json
    assert stored(app, customer) == {}


def test_metafields_request_without_a_token_is_a_401(client, customer):
    response = client.patch(metafields_url(customer), json={"metafields": VALUES})

    assert response.status_code == 401, response.json


# --- GraphQL -------------------------------------------------------------------------

ADMIN_QUERY = """query ($id: String) { customer(id: $id) {
    metaData updateMetafieldsApi urn addAddressApi updateProfileApi
    metafields { namespace key type value } metafield(namespace: "custom", key: "x") { value }
} }"""


def test_admin_graphql_has_evershops_customer_fields(client, admin, auth):
    customer = auth.create_customer(meta_data=VALUES)

    response = client.post(
        "/api/admin/graphql",
        json={"query": ADMIN_QUERY, "variables": {"id": customer["uuid"]}},
        headers=admin,
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["customer"] == {
        "metaData": VALUES,
        "updateMetafieldsApi": f"/api/customers/{customer['uuid']}/metafields",
        "urn": f"urn:evershop:customer:customer:{customer['uuid']}",
        "addAddressApi": "/api/customers/me/addresses",
        "updateProfileApi": "/api/customers/me",
        # No EverShop metafield definitions in this database.
        "metafields": [],
        "metafield": None,
    }


def test_storefront_has_no_meta_data_field(client, auth, customer):
    response = client.post(
        "/api/graphql",
        json={"query": "{ currentCustomer { metaData } }"},
        headers=auth.customer_headers(),
    )

    assert response.status_code == 400, response.json


def test_storefront_address_has_evershops_address_ids(client, admin, auth, customer):
    address = {"full_name": "J S", "address_1": "1 Main St", "city": "Albany", "country": "US"}
    made = client.post(f"/api/customers/{customer['uuid']}/addresses", json=address, headers=admin)
    query = "{ currentCustomer { addresses { addressId cartAddressId customerAddressId } } }"

    response = client.post("/api/graphql", json={"query": query}, headers=auth.customer_headers())

    assert response.status_code == 200, response.json
    made_id = made.json["data"]["customer_address_id"]
    assert response.json["data"]["currentCustomer"]["addresses"] == [
        {"addressId": made_id, "cartAddressId": None, "customerAddressId": made_id}
    ]
