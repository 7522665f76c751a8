"""Data export (docs/api.md, "Data export"): everything the service holds about
a customer as one JSON document — its own fields, group, meta_data, and the
sections plugins add through ``customer_export`` — for an admin or the
customer itself, and from ``flask customers export-one``."""

from __future__ import annotations

import json

import pluggy
import sqlalchemy as sa

from app.db import db
from tests.helpers import without_links

hookimpl = pluggy.HookimplMarker("evershop")

ADDRESS = {
    "full_name": "John Smith",
    "address_1": "1 Main St",
    "city": "Springfield",
    "country": "US",
}
DOCUMENT_KEYS = {
    "exported_at",
    "customer",
    "group",
    "meta_data",
    "addresses",
    "email_verification",
    "timeline",
}


def export(client, customer, headers):
    return client.get(f"/api/customers/{customer['uuid']}/export", headers=headers)


def customer_with_an_address(client, auth) -> dict:
    customer = auth.create_customer()
    created = client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=auth.admin_headers()
    )
    assert created.status_code == 201, created.json
    return customer


def timeline_events(app, customer) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT event, actor_type, actor_id FROM customer_event"
                " WHERE customer_id = :id ORDER BY customer_event_id"
            ),
            {"id": customer["customer_id"]},
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_admin_exports_a_customer_as_one_document(client, auth):
    customer = customer_with_an_address(client, auth)

    response = export(client, customer, auth.admin_headers())

    assert response.status_code == 200, response.json
    document = response.json["data"]
    assert set(document) == DOCUMENT_KEYS
    assert document["customer"] == without_links(customer)
    assert document["group"]["customer_group_id"] == 1
    assert document["group"]["group_name"] == "Default"
    assert document["meta_data"] == {}
    (address,) = document["addresses"]
    assert {k: address[k] for k in ADDRESS} == ADDRESS
    assert document["email_verification"] == {
        "email_verified": False,
        "verified_email": None,
        "verified_at": None,
        "pending_email": None,
        "pending_since": None,
    }
    assert [entry["event"] for entry in document["timeline"]] == [
        "address_created",
        "customer_registered",
    ]


def test_customer_exports_its_own_account(client, auth):
    customer = auth.create_customer()

    response = export(client, customer, auth.customer_headers())

    assert response.status_code == 200
    assert response.json["data"]["customer"]["uuid"] == customer["uuid"]


def test_customer_cannot_export_another_customer(app, client, auth, events):
    auth.create_customer()
    other = auth.create_customer(email="other@example.com")
    before = (events(), timeline_events(app, other))

    response = export(client, other, auth.customer_headers())

    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "A customer may only export its own account."}
    }
    assert (events(), timeline_events(app, other)) == before


def test_export_without_a_token_is_401(client, auth):
    customer = auth.create_customer()

    response = export(client, customer, None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_export_of_an_unknown_customer_is_404(client, auth, events):
    response = client.get(
        "/api/customers/00000000-0000-4000-8000-000000000000/export",
        headers=auth.admin_headers(),
    )

    assert response.status_code == 404
    assert events() == []


def test_export_emits_customer_exported_and_its_timeline_entry(app, client, auth, events):
    customer = auth.create_customer()
    admin_id = auth.create_admin(email="second.admin@example.com")["admin_user_id"]
    token = auth.admin_tokens(email="second.admin@example.com")["accessToken"]

    export(client, customer, {"Authorization": f"Bearer {token}"})

    assert events()[-1] == (
        "customer_exported",
        {"customer_id": customer["customer_id"], "uuid": customer["uuid"]},
    )
    assert timeline_events(app, customer)[-1] == ("customer_exported", "admin", str(admin_id))


def test_export_holds_no_secret(app, client, auth, caplog):
    customer = auth.create_customer()
    client.post("/api/customers/reset-password", json={"email": customer["email"]})
    app.test_cli_runner().invoke(args=["events", "run", "--once"])
    with app.app_context():
        secrets = db.session.execute(
            sa.text(
                "SELECT password FROM customer UNION ALL SELECT token FROM reset_password_token"
            )
        ).scalars()
        secrets = list(secrets)
        db.session.remove()
    assert len(secrets) == 2

    text = export(client, customer, auth.admin_headers()).get_data(as_text=True)

    assert not [secret for secret in secrets if secret in text]


def test_customer_export_hook_adds_a_plugin_section(client, auth, register_plugin):
    class Loyalty:
        @hookimpl
        def customer_export(self, customer):
            return {"loyalty": {"customer_id": customer["customer_id"], "points": 120}}

    register_plugin(Loyalty(), name="loyalty")
    customer = auth.create_customer()

    document = export(client, customer, auth.admin_headers()).json["data"]

    assert document["loyalty"] == {"customer_id": customer["customer_id"], "points": 120}


def test_customer_export_hook_answering_nothing_adds_nothing(client, auth, register_plugin):
    class Quiet:
        @hookimpl
        def customer_export(self, customer):
            return None

    register_plugin(Quiet(), name="quiet")
    customer = auth.create_customer()

    assert set(export(client, customer, auth.admin_headers()).json["data"]) == DOCUMENT_KEYS


def test_export_one_command_prints_the_document_of_the_endpoint(app, client, auth, runner):
    customer = customer_with_an_address(client, auth)

    result = runner.invoke(args=["customers", "export-one", "JOHN.SMITH@example.com"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    served = export(client, customer, auth.admin_headers()).json["data"]
    # The command's own export is in the timeline the endpoint serves after it.
    assert served["timeline"][0]["event"] == "customer_exported"
    assert (served["timeline"][0]["actor_type"], served["timeline"][0]["actor_id"]) == (
        "system",
        None,
    )
    assert served["timeline"][1:] == printed["timeline"]
    drop = {"exported_at", "timeline"}
    assert {k: v for k, v in served.items() if k not in drop} == {
        k: v for k, v in printed.items() if k not in drop
    }


def test_export_one_command_fails_for_an_unknown_email(runner):
    result = runner.invoke(args=["customers", "export-one", "nobody@example.com"])

    assert result.exit_code == 1
    assert "No customer has the email nobody@example.com." in result.output


def test_the_export_is_documented(client):
    document = client.get("/api/openapi.json").json

    operation = document["paths"]["/api/customers/{customer_uuid}/export"]["get"]
    assert operation["security"] == [{"adminToken": []}, {"customerToken": []}]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
