"""The verification, privacy and timeline plugins are ordinary built-ins: each
may be blocked (``PLUGINS_BLOCKED``), and the service then works without it,
the other plugins' optional hooks of it included."""

from __future__ import annotations

import pytest

from tests.conftest import Auth


@pytest.mark.parametrize(
    "blocked",
    [["verification"], ["privacy"], ["timeline"], ["verification", "privacy", "timeline"]],
)
def test_the_service_works_with_a_lifecycle_plugin_blocked(make_app, blocked):
    app = make_app(PLUGINS_BLOCKED=blocked)
    client = app.test_client()
    auth = Auth(app, client)

    customer = auth.create_customer()
    me = client.get("/api/customers/me", headers=auth.customer_headers())

    assert me.status_code == 200, me.json
    assert ("email_verified" in me.json["data"]) == ("verification" not in blocked)
    export = client.get(f"/api/customers/{customer['uuid']}/export", headers=auth.admin_headers())
    assert export.status_code == (404 if "privacy" in blocked else 200)
    timeline = client.get(
        f"/api/customers/{customer['uuid']}/timeline", headers=auth.admin_headers()
    )
    assert timeline.status_code == (404 if "timeline" in blocked else 200)


def test_export_without_the_timeline_plugin_has_no_timeline_section(make_app):
    app = make_app(PLUGINS_BLOCKED=["timeline"])
    client = app.test_client()
    auth = Auth(app, client)
    customer = auth.create_customer()

    document = client.get(
        f"/api/customers/{customer['uuid']}/export", headers=auth.admin_headers()
    ).json["data"]

    assert set(document) == {
        "exported_at",
        "customer",
        "group",
        "meta_data",
        "addresses",
        "email_verification",
    }
