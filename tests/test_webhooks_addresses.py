"""Where webhooks may go (docs/webhooks.md, "Addresses"): without
WEBHOOK_ALLOW_PRIVATE, a URL whose host is or resolves to a loopback, private,
link-local, metadata or other non-public address is refused when it is
registered, and again when a delivery is due. No test here connects anywhere
but to a loopback receiver."""

from __future__ import annotations

import ipaddress

import pytest
import sqlalchemy as sa

from app.db import db
from plugins.webhook.addresses import refusal
from tests.webhook_receiver import receiver  # noqa: F401 (a fixture)
from tests.webhooks import SETTINGS, outbox, register, run_events

# Plain http (the loopback receiver speaks it) but no private addresses: the default.
STRICT = {**SETTINGS, "WEBHOOK_ALLOW_PRIVATE": False}


@pytest.fixture
def app(make_app):
    return make_app(**STRICT)


def endpoint_count(app) -> int:
    with app.app_context():
        count = db.session.execute(sa.text("SELECT count(*) FROM webhook_endpoint")).scalar()
        db.session.remove()
    return count


@pytest.mark.parametrize(
    ("host", "shown", "kind"),
    [
        ("127.0.0.1", "127.0.0.1", "a loopback address"),
        ("127.8.9.10", "127.8.9.10", "a loopback address"),
        ("[::1]", "::1", "a loopback address"),
        ("10.1.2.3", "10.1.2.3", "a private address"),
        ("172.16.0.1", "172.16.0.1", "a private address"),
        ("192.168.1.1", "192.168.1.1", "a private address"),
        ("[fd12:3456::1]", "fd12:3456::1", "a private address"),
        ("169.254.1.1", "169.254.1.1", "a link-local address"),
        ("[fe80::1]", "fe80::1", "a link-local address"),
        ("100.64.0.1", "100.64.0.1", "a carrier-grade NAT address"),
        ("0.0.0.0", "0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "224.0.0.1", "a multicast address"),
        ("240.0.0.1", "240.0.0.1", "a reserved address"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1", "a loopback address"),
        ("[::ffff:10.0.0.1]", "::ffff:a00:1", "a private address"),
    ],
)
def test_a_non_public_address_is_refused_at_registration(app, client, auth, host, shown, kind):
    # When an endpoint is registered at a non-public address
    response = client.post(
        "/api/webhooks",
        json={"url": f"http://{host}/hook", "events": ["*"]},
        headers=auth.admin_headers(),
    )

    # Then it is a 400 that names the address and why, and nothing is stored
    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {
            "field": "url",
            "message": f"Not allowed: {shown}, {kind} (WEBHOOK_ALLOW_PRIVATE is off).",
        }
    ]
    assert endpoint_count(app) == 0


def test_a_host_name_resolving_to_loopback_is_refused_at_registration(app, client, auth, receiver):
    response = client.post(
        "/api/webhooks",
        json={"url": receiver.url(host="localhost"), "events": ["*"]},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 400
    (error,) = response.json["error"]["errors"]
    assert error["message"].startswith("Not allowed: localhost resolves to ")
    assert "a loopback address (WEBHOOK_ALLOW_PRIVATE is off)." in error["message"]
    assert endpoint_count(app) == 0


def test_a_public_address_is_accepted(client, auth):
    # Registration only checks the address: nothing is sent to it here.
    response = client.post(
        "/api/webhooks",
        json={"url": "https://1.1.1.1/hook", "events": ["*"]},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 201


def test_the_metadata_address_is_refused_even_when_private_addresses_are_allowed(make_app):
    from tests.conftest import Auth

    app = make_app(**SETTINGS)
    client = app.test_client()

    response = client.post(
        "/api/webhooks",
        json={"url": "http://169.254.169.254/latest/meta-data/", "events": ["*"]},
        headers=Auth(app, client).admin_headers(),
    )

    assert response.status_code == 400
    assert response.json["error"]["errors"] == [
        {"field": "url", "message": "Not allowed: 169.254.169.254, a cloud metadata address."}
    ]
    assert endpoint_count(app) == 0


def test_an_address_refused_at_delivery_time_gets_nothing_and_is_retried(make_app, receiver):
    # Given an endpoint named "localhost", registered while private addresses were allowed
    from tests.conftest import Auth

    allowing = make_app(**SETTINGS)
    client = allowing.test_client()
    admin = Auth(allowing, client).admin_headers()
    endpoint = register(client, admin, receiver.url(host="localhost"))

    # When the service no longer allows them and an event is due to it
    strict = make_app(**STRICT)
    client = strict.test_client()
    body = {"email": "ann@example.com", "password": "customer-pass-1", "full_name": "Ann"}
    assert client.post("/api/customers", json=body, headers=admin).status_code == 201
    run_events(strict, rounds=2)

    # Then no request reached the receiver, the refusal is logged, and it waits for a retry
    assert receiver.requests == []
    log = client.get(f"/api/webhooks/{endpoint['uuid']}/deliveries", headers=admin).json["data"]
    (refused,) = log["items"]
    assert refused["success"] is False and refused["status"] is None
    assert refused["error"].startswith("refused: Not allowed: localhost resolves to ")
    assert refused["error"].endswith("a loopback address (WEBHOOK_ALLOW_PRIVATE is off).")
    (pending,) = outbox(strict)
    assert pending["name"] == "webhook_delivery_requested"
    assert pending["attempts"] == 1


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::1", "a loopback address"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "a private address"),  # 6to4 of 192.168.1.1
        ("fd00:ec2::254", "a cloud metadata address"),
        ("198.18.0.1", "a benchmarking address"),
        ("192.0.2.1", "a documentation address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "a reserved address"),
    ],
)
def test_addresses_carried_in_other_forms_are_judged_as_themselves(address, reason):
    assert refusal(ipaddress.ip_address(address), allow_private=False) == reason


@pytest.mark.parametrize("address", ["1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None
