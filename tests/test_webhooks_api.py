"""The webhook admin API (docs/api.md, "Webhooks"): register, list, read,
update, delete, rotate the secret, ping, read the delivery log; admin tokens
only; every refusal answered with its status and nothing written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import db
from tests.webhook_receiver import receiver  # noqa: F401 (a fixture)
from tests.webhooks import SETTINGS, register, run_events

URL = "https://hooks.example.test/evershop?token=abc"


@pytest.fixture
def app(make_app):
    return make_app(**SETTINGS)


def stored_endpoints(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT url, events, enabled FROM webhook_endpoint")
        ).all()
        db.session.remove()
    return [row._asdict() for row in rows]


def test_registering_answers_201_with_the_endpoint_and_its_secret(client, auth, receiver):
    # When an admin registers an endpoint
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(), "events": ["customer_registered"], "description": "CRM"},
        headers=auth.admin_headers(),
    )

    # Then it is made, enabled, with a secret shown this once
    assert response.status_code == 201
    data = response.json["data"]
    assert response.headers["Location"] == f"/api/webhooks/{data['uuid']}"
    assert data["url"] == receiver.url()
    assert data["events"] == ["customer_registered"]
    assert data["description"] == "CRM"
    assert (data["enabled"], data["failure_streak"], data["failing_since"]) == (True, 0, None)
    assert (data["disabled_at"], data["disabled_reason"]) == (None, None)
    assert len(data["secret"]) >= 43


def test_the_secret_is_never_shown_again(client, auth, receiver):
    # Given an endpoint
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    # When it is read, listed and updated
    answers = [
        client.get(f"/api/webhooks/{endpoint['uuid']}", headers=admin),
        client.get("/api/webhooks", headers=admin),
        client.patch(f"/api/webhooks/{endpoint['uuid']}", json={"events": ["*"]}, headers=admin),
    ]

    # Then no answer holds it
    for answer in answers:
        assert answer.status_code == 200
        assert "secret" not in answer.get_data(as_text=True)
        assert endpoint["secret"] not in answer.get_data(as_text=True)


def test_the_secret_is_stored_encrypted(app, client, auth, receiver):
    # Given an endpoint
    endpoint = register(client, auth.admin_headers(), receiver.url())

    # Then the database does not hold its secret as it was shown
    with app.app_context():
        stored = db.session.execute(sa.text("SELECT secret FROM webhook_endpoint")).scalar_one()
        db.session.remove()
    assert endpoint["secret"] not in stored


def test_endpoints_are_listed_oldest_first_and_paginated(client, auth, receiver):
    # Given three endpoints
    admin = auth.admin_headers()
    made = [register(client, admin, receiver.url(f"/{n}"))["uuid"] for n in range(3)]

    # When the second page of two is read
    response = client.get("/api/webhooks?page=2&limit=2", headers=admin)

    # Then it holds the third, and the total
    assert response.status_code == 200
    page = response.json["data"]
    assert [e["uuid"] for e in page["items"]] == made[2:]
    assert (page["total"], page["currentPage"], page["limit"]) == (3, 2, 2)


def test_an_endpoint_is_read_by_its_uuid(client, auth, receiver):
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    response = client.get(f"/api/webhooks/{endpoint['uuid']}", headers=admin)

    assert response.status_code == 200
    assert response.json["data"] == {k: v for k, v in endpoint.items() if k != "secret"}


def test_an_update_changes_the_url_events_and_description(client, auth, receiver):
    # Given an endpoint
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    # When its URL, events and description change
    response = client.patch(
        f"/api/webhooks/{endpoint['uuid']}",
        json={
            "url": receiver.url("/other"),
            "events": ["customer_deleted", "address_created"],
            "description": "ERP",
        },
        headers=admin,
    )

    # Then the answer and later reads show them
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["url"], data["events"], data["description"]) == (
        receiver.url("/other"),
        ["customer_deleted", "address_created"],
        "ERP",
    )
    assert client.get(f"/api/webhooks/{endpoint['uuid']}", headers=admin).json["data"] == data


def test_disabling_an_endpoint_says_when_and_why(client, auth, receiver):
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    response = client.patch(
        f"/api/webhooks/{endpoint['uuid']}", json={"enabled": False}, headers=admin
    )

    assert response.status_code == 200
    data = response.json["data"]
    assert data["enabled"] is False
    assert data["disabled_at"] is not None
    assert data["disabled_reason"] == "disabled through the API"


def test_a_deleted_endpoint_is_gone_with_its_delivery_log(app, client, auth, receiver):
    # Given an endpoint with a delivery in its log
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    client.post(f"/api/webhooks/{endpoint['uuid']}/ping", headers=admin)
    run_events(app)

    # When it is deleted
    response = client.delete(f"/api/webhooks/{endpoint['uuid']}", headers=admin)

    # Then the answer is the endpoint as it was, and nothing of it remains
    assert response.status_code == 200
    assert response.json["data"]["uuid"] == endpoint["uuid"]
    assert client.get(f"/api/webhooks/{endpoint['uuid']}", headers=admin).status_code == 404
    with app.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM webhook_delivery")).scalar() == 0
        db.session.remove()


def test_the_delivery_log_is_newest_first_and_paginated(app, client, auth, receiver):
    # Given an endpoint pinged three times
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    pings = []
    for _ in range(3):
        pings.append(
            client.post(f"/api/webhooks/{endpoint['uuid']}/ping", headers=admin).json["data"]
        )
        run_events(app)

    # When the log is read two at a time
    first = client.get(f"/api/webhooks/{endpoint['uuid']}/deliveries?limit=2", headers=admin)
    second = client.get(
        f"/api/webhooks/{endpoint['uuid']}/deliveries?limit=2&page=2", headers=admin
    )

    # Then the newest come first
    assert first.status_code == second.status_code == 200
    ids = [d["event_id"] for d in first.json["data"]["items"] + second.json["data"]["items"]]
    assert ids == [ping["event_id"] for ping in reversed(pings)]
    assert first.json["data"]["total"] == 3


def test_every_event_is_asked_for_with_a_star(client, auth, receiver):
    endpoint = register(client, auth.admin_headers(), receiver.url(), ["*"])

    assert endpoint["events"] == ["*"]


def test_repeated_event_names_are_kept_once(client, auth, receiver):
    endpoint = register(
        client,
        auth.admin_headers(),
        receiver.url(),
        ["customer_updated", "customer_updated", "customer_deleted"],
    )

    assert endpoint["events"] == ["customer_updated", "customer_deleted"]


# --- refusals ---------------------------------------------------------------------


def test_an_unknown_event_is_a_400_listing_the_known_ones(app, client, auth, receiver):
    # When an endpoint asks for an event nobody declares
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(), "events": ["customer_registered", "order_placed"]},
        headers=auth.admin_headers(),
    )

    # Then it is refused, naming it and listing the declared events
    assert response.status_code == 400
    (error,) = response.json["error"]["errors"]
    assert error["field"] == "events"
    assert error["message"].startswith("Unknown event(s): order_placed. Known events: ")
    for known in ("customer_registered", "address_deleted", "webhook_endpoint_disabled"):
        assert known in error["message"]
    assert "webhook_delivery_requested" not in error["message"]
    assert stored_endpoints(app) == []


def test_a_star_beside_event_names_is_a_400(app, client, auth, receiver):
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(), "events": ["*", "customer_registered"]},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "events", "message": '"*" (every event) must stand alone.'}
    ]
    assert stored_endpoints(app) == []


def test_an_empty_list_of_events_is_a_400(app, client, auth, receiver):
    response = client.post(
        "/api/webhooks", json={"url": receiver.url(), "events": []}, headers=auth.admin_headers()
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"][0]["field"] == "events"
    assert stored_endpoints(app) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.test/x", "Must be an absolute http or https URL."),
        ("hooks.example.test/x", "Must be an absolute http or https URL."),
        ("https://", "Must name a valid host."),
        ("https://bad host/x", "Must name a valid host."),
        ("https://user:pass@hooks.example.test/", "Must not hold a user name or password;"),
        ("https://hooks.example.test:70000/", "Must have a port between 1 and 65535."),
        ("https://no-such-host.invalid/", "The host no-such-host.invalid does not resolve"),
    ],
)
def test_a_bad_url_is_a_400_naming_the_url(app, client, auth, url, message):
    response = client.post(
        "/api/webhooks", json={"url": url, "events": ["*"]}, headers=auth.admin_headers()
    )

    assert response.status_code == 400
    (error,) = response.json["error"]["errors"]
    assert error["field"] == "url"
    assert error["message"].startswith(message)
    assert stored_endpoints(app) == []


def test_plain_http_is_a_400_unless_allowed(make_app, receiver):
    # Given a service that takes https only (the default)
    from tests.conftest import Auth

    app = make_app(**{**SETTINGS, "WEBHOOK_ALLOW_HTTP": False})
    client = app.test_client()

    # When an http URL is registered
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(), "events": ["*"]},
        headers=Auth(app, client).admin_headers(),
    )

    # Then it is refused, saying what would allow it
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {
            "field": "url",
            "message": "Must use https (plain http is refused unless WEBHOOK_ALLOW_HTTP=true).",
        }
    ]
    assert stored_endpoints(app) == []


def test_a_bad_url_in_an_update_is_a_400_and_changes_nothing(app, client, auth, receiver):
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    response = client.patch(
        f"/api/webhooks/{endpoint['uuid']}",
        json={"url": "ftp://x.example.test/", "events": ["customer_deleted"]},
        headers=admin,
    )

    assert response.status_code == 400
    now = client.get(f"/api/webhooks/{endpoint['uuid']}", headers=admin).json["data"]
    assert (now["url"], now["events"], now["updated_at"]) == (
        receiver.url(),
        ["*"],
        endpoint["updated_at"],
    )


def test_an_unknown_field_is_a_400(app, client, auth, receiver):
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(), "events": ["*"], "secret": "mine"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["message"] == "Unknown field(s): secret."
    assert stored_endpoints(app) == []


MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/api/webhooks/{MISSING}"),
        ("patch", f"/api/webhooks/{MISSING}"),
        ("delete", f"/api/webhooks/{MISSING}"),
        ("post", f"/api/webhooks/{MISSING}/ping"),
        ("post", f"/api/webhooks/{MISSING}/secret"),
        ("get", f"/api/webhooks/{MISSING}/deliveries"),
    ],
)
def test_an_unknown_uuid_is_a_404(client, auth, method, path):
    response = getattr(client, method)(path, json={}, headers=auth.admin_headers())

    assert response.status_code == 404
    assert response.json["error"]["message"] == "Webhook endpoint not found."


ROUTES = [
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks"),
    ("get", f"/api/webhooks/{MISSING}"),
    ("patch", f"/api/webhooks/{MISSING}"),
    ("delete", f"/api/webhooks/{MISSING}"),
    ("post", f"/api/webhooks/{MISSING}/ping"),
    ("post", f"/api/webhooks/{MISSING}/secret"),
    ("get", f"/api/webhooks/{MISSING}/deliveries"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_customer_token_is_a_403(app, client, auth, receiver, method, path):
    auth.create_customer()
    headers = auth.customer_headers()

    response = getattr(client, method)(
        path, json={"url": receiver.url(), "events": ["*"]}, headers=headers
    )

    assert response.status_code == 403
    assert stored_endpoints(app) == []


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_token_is_a_401(app, client, receiver, method, path):
    response = getattr(client, method)(path, json={"url": receiver.url(), "events": ["*"]})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored_endpoints(app) == []


def test_pinging_a_disabled_endpoint_is_a_409(app, client, auth, receiver):
    # Given a disabled endpoint
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url(), enabled=False)

    # When it is pinged
    response = client.post(f"/api/webhooks/{endpoint['uuid']}/ping", headers=admin)

    # Then it is refused and nothing is queued
    assert response.status_code == 409
    assert response.json["error"]["message"] == (
        "The endpoint is disabled: enable it (PATCH enabled=true) first."
    )
    with app.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM event_outbox")).scalar() == 0
        db.session.remove()


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").json["paths"]

    def methods(path):
        return set(paths[path]) - {"parameters"}

    assert methods("/api/webhooks") == {"get", "post"}
    assert methods("/api/webhooks/{endpoint_uuid}") == {"get", "patch", "delete"}
    assert methods("/api/webhooks/{endpoint_uuid}/ping") == {"post"}
    assert methods("/api/webhooks/{endpoint_uuid}/secret") == {"post"}
    assert methods("/api/webhooks/{endpoint_uuid}/deliveries") == {"get"}
    assert paths["/api/webhooks"]["post"]["security"] == [{"adminToken": []}]
