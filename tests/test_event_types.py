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
    admin = auth.admin_headers()
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


def test_register_events_declares_every_event_the_service_emits(make_app, register_plugin, caplog):
    from tests.conftest import Auth

    app = make_app(EVENTS_DELIVERY="inline")
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

    app = make_app(EVENTS_DELIVERY="inline")
    client = app.test_client()
    everything = Everything(list(declared(app)))
    app.extensions["plugins"].register(everything, name="everything")

    walk(client, Auth(app, client), caplog)

    sequences = [event.sequence for event in everything.received]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
