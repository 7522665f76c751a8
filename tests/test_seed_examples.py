"""The seed's curl requests for customers, replayed as curl sends them.

``curl -H "Accept: application/json" -H "Authorization: Bearer <token>"
--data-raw '<JSON DATA>'`` sends the JSON with no Content-Type of its own
choosing (curl labels ``--data-raw`` as a form), so the service must read the
raw body as JSON either way (docs/api.md, "Wire format").
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [None, FORM]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
LATER = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
LATER_TEXT = "2031-05-06 07:08:09"

CREATE_BODY = (
    '{"email":"john.smith@example.com","password":"s3cret-Passw0rd",'
    '"full_name":"John Smith","status":1}'
)
UPDATE_BODY = '{"full_name":"John A. Smith"}'

# The keys of the seed's sample answers; the contract adds none for these, and
# the built-in verification plugin adds its fields (docs/api.md, "Email verification").
SEED_CUSTOMER_KEYS = {
    "customer_id",
    "uuid",
    "status",
    "group_id",
    "email",
    "full_name",
    "created_at",
    "updated_at",
    "meta_data",
} | {"email_verified", "pending_email"}
SEED_CREATE_KEYS = SEED_CUSTOMER_KEYS | {"links", "insertId"}
SEED_UPDATE_KEYS = SEED_CUSTOMER_KEYS | {"links"}
SEED_DELETE_KEYS = SEED_CUSTOMER_KEYS


def seed_links(customer_uuid: str) -> list[dict]:
    return [
        {"rel": "customerGrid", "href": "/admin/customers", "action": "GET", "types": ["text/xml"]},
        {
            "rel": "edit",
            "href": f"/admin/customers/edit/{customer_uuid}",
            "action": "GET",
            "types": ["text/xml"],
        },
    ]


@pytest.fixture
def curl_headers(auth) -> dict:
    """Exactly the seed's -H lines."""
    token = auth.admin_headers()["Authorization"].removeprefix("Bearer ")
    return {"Accept": "application/json", "Authorization": f"Bearer {token}"}


def send(client, method: str, path: str, headers: dict, raw: str | None, content_type):
    kwargs = {"headers": headers}
    if raw is not None:
        kwargs["data"] = raw
    if content_type is not None:
        kwargs["content_type"] = content_type
    response = client.open(path, method=method, **kwargs)
    # The replay is verbatim: the body went out as raw bytes with only this type.
    assert response.request.headers.get("Content-Type") == content_type
    return response


def create(client, headers, content_type):
    return send(client, "POST", "/api/customers", headers, CREATE_BODY, content_type)


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["no-content-type", "form"])
def test_seed_create_request_works_verbatim(app, client, curl_headers, content_type):
    response = create(client, curl_headers, content_type)

    assert response.status_code == 201, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) == SEED_CREATE_KEYS
    assert isinstance(data["customer_id"], int)
    assert data["uuid"] == str(uuid.UUID(data["uuid"]))
    assert (data["status"], data["group_id"]) == (1, 1)
    assert (data["email"], data["full_name"]) == ("john.smith@example.com", "John Smith")
    assert TIMESTAMP.match(data["created_at"])
    assert data["updated_at"] == data["created_at"]
    assert data["links"] == seed_links(data["uuid"])
    assert response.headers["Location"] == f"/api/customers/{data['uuid']}"


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["no-content-type", "form"])
def test_seed_create_request_makes_a_customer_who_can_log_in(
    app, client, auth, curl_headers, content_type
):
    create(client, curl_headers, content_type)

    tokens = auth.customer_tokens("john.smith@example.com", "s3cret-Passw0rd")

    assert set(tokens) == {"accessToken", "refreshToken"}


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["no-content-type", "form"])
def test_seed_update_request_works_verbatim(app, client, curl_headers, monkeypatch, content_type):
    created = create(client, curl_headers, content_type).json["data"]
    monkeypatch.setattr("plugins.customer.service.utcnow", lambda: LATER)

    response = send(
        client,
        "PATCH",
        f"/api/customers/{created['uuid']}",
        curl_headers,
        UPDATE_BODY,
        content_type,
    )

    assert response.status_code == 200, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) == SEED_UPDATE_KEYS
    assert created.pop("insertId") == created["customer_id"]  # the create answer's only
    assert data == {**created, "full_name": "John A. Smith", "updated_at": LATER_TEXT}
    assert data["links"] == seed_links(created["uuid"])


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["no-content-type", "form"])
def test_seed_delete_request_works_verbatim(app, client, curl_headers, content_type):
    created = create(client, curl_headers, content_type).json["data"]
    updated = send(
        client,
        "PATCH",
        f"/api/customers/{created['uuid']}",
        curl_headers,
        UPDATE_BODY,
        content_type,
    ).json["data"]

    response = send(client, "DELETE", f"/api/customers/{created['uuid']}", curl_headers, None, None)

    assert response.status_code == 200, response.json
    assert set(response.json) == {"data"}
    data = response.json["data"]
    assert set(data) == SEED_DELETE_KEYS
    assert data == {k: v for k, v in updated.items() if k != "links"}
    assert data["full_name"] == "John A. Smith"


def test_seed_delete_request_leaves_the_customer_gone(app, client, curl_headers):
    created = create(client, curl_headers, None).json["data"]
    send(client, "DELETE", f"/api/customers/{created['uuid']}", curl_headers, None, None)

    response = client.get(f"/api/customers/{created['uuid']}", headers=curl_headers)

    assert response.status_code == 404
    assert response.json["error"]["status"] == 404


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["no-content-type", "form"])
def test_seed_create_with_a_real_form_body_is_415(app, client, curl_headers, content_type):
    response = send(
        client,
        "POST",
        "/api/customers",
        curl_headers,
        "email=john.smith%40example.com&password=s3cret-Passw0rd&full_name=John",
        content_type,
    )

    assert response.status_code == 415
    assert response.json["error"]["status"] == 415
    assert client.get("/api/customers", headers=curl_headers).json["data"]["total"] == 0
