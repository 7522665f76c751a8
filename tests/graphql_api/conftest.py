"""GraphQL (docs/api.md, "GraphQL"): requests, helpers and fixtures that the
files beside this one share."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest

from app.db import db
from plugins.address.models import CustomerAddress
from plugins.customer.models import Customer, CustomerGroup

ADMIN_GRAPHQL = "/api/admin/graphql"
PUBLIC_GRAPHQL = "/api/graphql"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"

NO_TOKEN = {
    "error": {"status": 401, "message": "Authentication is required: send a valid Bearer token."}
}
BAD_TOKEN = {"error": {"status": 401, "message": "The token is invalid or expired."}}
ACCOUNT_GONE = {
    "error": {
        "status": 401,
        "message": "The token's account no longer exists, is disabled, or its token was revoked.",
    }
}
WRONG_TOKEN_TYPE = {
    "error": {"status": 403, "message": "This token does not grant access to this resource."}
}
NO_QUERY = {"error": {"status": 400, "message": "Send a GraphQL query in the 'query' field."}}

ADDRESS_FIELDS = """
    customerAddressId uuid fullName telephone address1 address2 city
    province { code name countryCode }
    country { code name }
    postcode isDefault updateApi deleteApi
"""
CUSTOMER_FIELDS = f"""
    customerId uuid status email fullName groupId
    group {{ customerGroupId groupName }}
    createdAt {{ value text }}
    updatedAt {{ value text }}
    editUrl updateApi deleteApi
    addresses {{ {ADDRESS_FIELDS} }}
"""
CUSTOMER_BY_ID = f"query One($id: String) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
CURRENT_CUSTOMER = f"{{ currentCustomer {{ {CUSTOMER_FIELDS} }} }}"


# --- helpers -------------------------------------------------------------------


def post(client, query: str, variables=None, headers=None, path=ADMIN_GRAPHQL):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post(path, json=body, headers=headers or {})


def expected_date(timestamp: str) -> dict:
    """The ``Date`` EverShop gives for an API timestamp ("YYYY-MM-DD HH:MM:SS", UTC)."""
    moment = datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return {
        "value": str(int(moment.timestamp()) * 1000),
        "text": f"{moment:%b} {moment.day}, {moment.year}",
    }


def add_group(app, name: str) -> dict:
    with app.app_context():
        group = CustomerGroup(group_name=name)
        db.session.add(group)
        db.session.commit()
        found = {"customerGroupId": group.customer_group_id, "groupName": group.group_name}
        db.session.remove()
    return found


def add_address(client, headers, customer: dict, **fields) -> dict:
    response = client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=fields, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def read_customer(client, headers, customer: dict) -> dict:
    response = client.get(f"/api/customers/{customer['uuid']}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def set_timestamps(app, customer: dict, created_at: datetime, updated_at: datetime) -> None:
    with app.app_context():
        row = db.session.get(Customer, customer["customer_id"])
        row.created_at = created_at
        row.updated_at = updated_at
        db.session.commit()
        db.session.remove()


def seed_customers(app, count: int, addresses_each: int, group_ids=(1,)) -> None:
    """``count`` customers with ``addresses_each`` addresses, written directly;
    the customers take the ``group_ids`` in turn."""
    with app.app_context():
        for n in range(count):
            customer = Customer(
                email=f"bulk{n:03}@example.com",
                password="unused",
                full_name=f"Bulk {n:03}",
                group_id=group_ids[n % len(group_ids)],
            )
            db.session.add(customer)
            db.session.flush()
            for k in range(addresses_each):
                db.session.add(
                    CustomerAddress(
                        customer_id=customer.customer_id,
                        full_name=f"Bulk {n:03}",
                        address_1=f"{k + 1} Main Street",
                        city="Albany",
                        province="NY",
                        country="US",
                        is_default=k == 0,
                    )
                )
        db.session.commit()
        db.session.remove()


def expired_customer_token(app, customer: dict) -> str:
    past = int(time.time()) - 60
    claims = {
        "customer": {
            name: customer[name]
            for name in ("customer_id", "uuid", "email", "full_name", "status", "group_id")
        },
        "tokenType": "customer",
        "tokenKind": "access",
        "iss": "evershop",
        "aud": "customer",
        "iat": past - 1800,
        "exp": past,
    }
    return jwt.encode(claims, app.config["JWT_CUSTOMER_SECRET"], algorithm="HS256")


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


@pytest.fixture
def ext_client(make_app, app):
    """A client of an app that also loads the sample GraphQL plugin."""
    return make_app(PLUGINS=["tests.plugins.graphql_extension"]).test_client()
