"""Events are declared (docs/plugins.md, "Events"): every event the service
emits is an EventType some plugin returns from ``register_events``, its
payload matches the declared schema, and ``sequence`` follows the order of the
changes."""

from __future__ import annotations

import logging
import re

import pluggy

from app.plugins import contributions

hookimpl = pluggy.HookimplMarker("evershop")

# A webhook endpoint's first failure disables it, so that the walk meets the
# webhook plugin's events too.
WEBHOOKS = {
    "WEBHOOK_ALLOW_PRIVATE": True,
    "WEBHOOK_ALLOW_HTTP": True,
    "WEBHOOK_MAX_CONSECUTIVE_FAILURES": 1,
    "WEBHOOK_MIN_FAILING_SECONDS": 0,
}
ADDRESS = {"full_name": "J S", "address_1": "1 Main St", "city": "Springfield", "country": "US"}


def declared(app) -> dict:
    with app.app_context():
        found = contributions(app.extensions["plugins"], "register_events")
    return {event.name: event for events in found.values() for event in events}


class Everything:
    def __init__(self, names):
        self.names = names
        self.received = []

    @hookimpl
    def subscribe(self):
        return {name: self.received.append for name in self.names}


def walk(client, auth, caplog) -> None:
    """Every kind of change, once."""
    from tests.webhook_receiver import free_port

    admin = auth.admin_headers()
    # Nothing listens there: the delivery of the first event fails.
    endpoint = {"url": f"http://127.0.0.1:{free_port()}/", "events": ["customer_registered"]}
    assert client.post("/api/webhooks", json=endpoint, headers=admin).status_code == 201
    customer = auth.create_customer()
    base = f"/api/customers/{customer['uuid']}"
    client.patch(base, json={"full_name": "J"}, headers=admin)
    address = client.post(f"{base}/addresses", json=ADDRESS, headers=admin).json["data"]
    client.patch(f"{base}/addresses/{address['uuid']}", json={"city": "X"}, headers=admin)
    client.delete(f"{base}/addresses/{address['uuid']}", headers=admin)
    with caplog.at_level(logging.INFO, logger="app.mail"):
        client.post("/api/customers/reset-password", json={"email": customer["email"]})
    (token,) = re.findall(r"token=([A-Za-z0-9_-]+)", caplog.text)
    client.post("/api/customers/password", json={"token": token, "password": "new-pass-123"})
    auth.create_customer(email="off@example.com", status=0)
    group = client.post("/api/customer-groups", json={"group_name": "G"}, headers=admin).json
    group_path = f"/api/customer-groups/{group['data']['uuid']}"
    client.patch(group_path, json={"group_name": "H"}, headers=admin)
    client.delete(group_path, headers=admin)
    client.post(f"{base}/sessions/revoke", headers=admin)
    client.delete(base, headers=admin)
    walk_verification_and_privacy(client, auth, caplog)


def links(caplog, seen: int, page: str) -> list[str]:
    text = "\n".join(r.getMessage() for r in caplog.records[seen:] if r.name == "app.mail")
    return re.findall(page + r"\?token=([A-Za-z0-9_-]+)", text)


def walk_verification_and_privacy(client, auth, caplog) -> None:
    """A sign-up, its verification links, an email change, an export, a note
    and an erasure on the customer's own request."""
    admin = auth.admin_headers()
    body = {"email": "v@example.com", "password": "v-pass-1234", "full_name": "V"}
    with caplog.at_level(logging.INFO, logger="app.mail"):
        seen = len(caplog.records)
        signed_up = client.post("/api/customers", json=body).json["data"]
        client.post("/api/customers/verify-email/resend", json={"email": "v@example.com"})
        headers = auth.customer_headers("v@example.com", "v-pass-1234")
        client.patch("/api/customers/me", json={"email": "w@example.com"}, headers=headers)
        change = links(caplog, seen, "/verify-email")[-1]
        client.post("/api/customers/verify-email", json={"token": change})
        base = f"/api/customers/{signed_up['uuid']}"
        client.get(f"{base}/export", headers=admin)
        client.post(f"{base}/timeline", json={"note": "Called us."}, headers=admin)
        seen = len(caplog.records)
        client.post("/api/customers/me/delete-request", headers=headers)
        (erasure,) = links(caplog, seen, "/delete-account")
        client.post("/api/customers/delete-confirm", json={"token": erasure})


def test_register_events_declares_every_event_the_service_emits(make_app, register_plugin, caplog):
    from tests.conftest import Auth

    app = make_app(EVENTS_DELIVERY="inline", **WEBHOOKS)
    client = app.test_client()
    names = declared(app)
    everything = Everything(list(names))
    app.extensions["plugins"].register(everything, name="everything")

    walk(client, Auth(app, client), caplog)

    seen = {event.name for event in everything.received}
    assert seen == set(names), set(names) ^ seen
    for event in everything.received:
        schema = names[event.name].payload
        assert schema().validate(event.payload) == {}, (event.name, event.payload)


def test_event_sequence_follows_the_order_of_the_changes(make_app, caplog):
    from tests.conftest import Auth

    app = make_app(EVENTS_DELIVERY="inline", **WEBHOOKS)
    client = app.test_client()
    everything = Everything(list(declared(app)))
    app.extensions["plugins"].register(everything, name="everything")

    walk(client, Auth(app, client), caplog)

    sequences = [event.sequence for event in everything.received]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


def test_declared_events_are_those_the_named_plugins_declare_in_their_order(app):
    from app.plugin_api import declared_events

    with app.app_context():
        names = [event.name for event in declared_events("address", "customer")]

    assert names == [
        "address_created",
        "address_updated",
        "address_deleted",
        "customer_registered",
        "account_created",
        "customer_updated",
        "customer_password_changed",
        "customer_deleted",
    ]


def test_declared_events_without_a_name_are_every_plugins(app):
    from app.plugin_api import declared_events

    with app.app_context():
        names = {event.name for event in declared_events()}

    assert names == set(declared(app))


def test_declared_events_of_a_plugin_that_declares_none_are_none(app):
    from app.plugin_api import declared_events

    with app.app_context():
        assert declared_events("auth", "no_such_plugin") == []
