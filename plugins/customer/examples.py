"""The seed's samples (seed/customer-api.txt) as the OpenAPI document's
examples, written as the service answers them (uuids dashed)."""

from __future__ import annotations

SEED_UUID = "433ba97f-8be7-4be9-be3f-a9f341f2b89f"
CREATED_UUID = "e1b20098-a66c-11ed-b46b-60d819134f39"


def _links(customer_uuid: str) -> list[dict]:
    return [
        {"rel": "customerGrid", "href": "/admin/customers", "action": "GET", "types": ["text/xml"]},
        {
            "rel": "edit",
            "href": f"/admin/customers/edit/{customer_uuid}",
            "action": "GET",
            "types": ["text/xml"],
        },
    ]


def _customer(customer_uuid: str, full_name: str, updated_at: str) -> dict:
    return {
        "customer_id": 21,
        "uuid": customer_uuid,
        "status": 1,
        "group_id": 1,
        "email": "john.smith@example.com",
        "full_name": full_name,
        "created_at": "2023-02-07 14:18:05",
        "updated_at": updated_at,
        "meta_data": {},
    }


CREATE_REQUEST = {
    "email": "john.smith@example.com",
    "password": "s3cret-Passw0rd",
    "full_name": "John Smith",
    "status": 1,
}
SIGNUP_REQUEST = {
    "email": "john.smith@example.com",
    "password": "s3cret-Passw0rd",
    "full_name": "John Smith",
}
CREATE_REQUESTS = {
    "admin": {"summary": "An admin creates a customer", "value": CREATE_REQUEST},
    "signup": {"summary": "A visitor signs up (no token)", "value": SIGNUP_REQUEST},
}
CREATED = {
    "data": {
        **_customer(CREATED_UUID, "John Smith", "2023-02-07 14:18:05"),
        "links": _links(CREATED_UUID),
        "insertId": 21,
    }
}

UPDATE_REQUEST = {"full_name": "John A. Smith"}
UPDATED = {
    "data": {
        **_customer(SEED_UUID, "John A. Smith", "2023-02-07 14:18:06"),
        "links": _links(SEED_UUID),
    }
}

DELETED = {"data": _customer(SEED_UUID, "John A. Smith", "2023-02-07 14:18:06")}
