"""Metafields are one column for both: what EverShop's admin saves the service
reads, and the reverse (docs/api.md, "Metafields")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.evershop.helpers import bearer, new_email

NAMESPACE = "coexist"


@pytest.fixture(scope="module")
def definition(evershop, service_app):
    """An EverShop metafield definition of customers (a short text)."""
    from app.db import db

    key = "nickname"
    with service_app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO metafield_definition (owner_type, namespace, field_key, name,"
                " field_type) VALUES ('customer', :ns, :key, 'Nickname', 'short_text')"
                " ON CONFLICT DO NOTHING"
            ),
            {"ns": NAMESPACE, "key": key},
        )
        db.session.commit()
        db.session.remove()
    return key


@pytest.fixture
def customer(evershop) -> dict:
    made = evershop.request(
        "POST",
        "/api/customers",
        {"email": new_email("meta"), "password": "customer-pass-1", "full_name": "Meta Data"},
    )
    assert made.status == 200, made.body
    return made.body["data"]


def test_metafields_saved_by_evershops_admin_are_read_by_the_service(
    evershop, service, evershop_admin_token, definition, customer
):
    values = {NAMESPACE: {definition: "Bob"}}
    saved = evershop.request(
        "PATCH",
        f"/api/customers/{customer['uuid']}/metafields",
        {"metafields": values},
        token=evershop_admin_token,
    )
    assert saved.status == 200, saved.body

    read = service.get(f"/api/customers/{customer['uuid']}", headers=bearer(evershop_admin_token))

    assert read.status_code == 200, read.json
    assert read.json["data"]["meta_data"] == values == saved.body["data"]["metaData"]


def test_the_services_metafields_request_answers_as_evershops(
    evershop, service, evershop_admin_token, definition, customer
):
    body = {"metafields": {NAMESPACE: {definition: "Robert"}}}
    path = f"/api/customers/{customer['uuid']}/metafields"

    theirs = evershop.request("PATCH", path, body, token=evershop_admin_token)
    ours = service.patch(path, json=body, headers=bearer(evershop_admin_token))

    assert ours.status_code == theirs.status == 200, (ours.json, theirs.body)
    assert ours.json == theirs.body


def test_metafields_saved_by_the_service_are_read_by_evershop(
    evershop, service, evershop_admin_token, definition, customer
):
    values = {NAMESPACE: {definition: "Rob"}}
    saved = service.patch(
        f"/api/customers/{customer['uuid']}/metafields",
        json={"metafields": values},
        headers=bearer(evershop_admin_token),
    )
    assert saved.status_code == 200, saved.json
    query = """query ($id: String) { customer(id: $id) {
        metaData metafields { namespace key type value }
        metafield(namespace: "coexist", key: "nickname") { value } } }"""
    body = {"query": query, "variables": {"id": customer["uuid"]}}

    theirs = evershop.request("POST", "/api/admin/graphql", body, token=evershop_admin_token)
    ours = service.post("/api/admin/graphql", json=body, headers=bearer(evershop_admin_token))

    assert theirs.status == 200, theirs.body
    assert theirs.body["data"]["customer"]["metaData"] == values
    assert ours.json == theirs.body
