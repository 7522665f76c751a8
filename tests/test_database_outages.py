"""The database goes away and comes back (docs/operations.md, "When things
fail"): no request gets a 500 from a connection the database dropped. Reads
are retried once on a fresh connection; writes answer 503 with Retry-After
while the database is away; a connection that sat idle is checked before use.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, _empty_tables
from tests.test_health import build_app, outage  # noqa: F401 (fixtures)

UNAVAILABLE = "The database is unavailable at the moment: try again in a few seconds."
CUSTOMER = {"email": "john.smith@example.com", "password": "customer-pass-1", "full_name": "J S"}


@pytest.fixture
def service(backend, build_app, outage):  # noqa: F811
    """A client of an app whose database link the test can cut, with an admin
    token and one customer; its rows are removed afterwards."""
    if backend != "postgresql":
        pytest.skip("a database server that restarts: PostgreSQL")
    app = build_app(outage.url)
    client = app.test_client()
    from app.auth.service import create_admin_user

    with app.app_context():
        create_admin_user(ADMIN_EMAIL, ADMIN_PASSWORD, "Admin")
    token = client.post("/api/user/tokens", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['data']['accessToken']}"}
    created = client.post("/api/customers", json=CUSTOMER, headers=headers)
    assert created.status_code == 201, created.json
    yield client, headers, created.json["data"]["uuid"], outage
    _empty_tables(app)


def restart(outage) -> None:  # noqa: F811
    """Every open connection dropped, as a restart of the server does."""
    outage.cut()
    outage.restore()


def test_read_right_after_the_database_restarted_is_answered(service):
    client, headers, uuid, outage = service  # noqa: F811

    restart(outage)
    response = client.get(f"/api/customers/{uuid}", headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == uuid


def test_write_a_while_after_the_database_restarted_is_answered(service):
    client, headers, uuid, outage = service  # noqa: F811

    restart(outage)
    time.sleep(1.2)  # the pooled connection has sat idle: it is checked first
    response = client.patch(f"/api/customers/{uuid}", json={"full_name": "J"}, headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "J"


def test_write_while_the_database_is_away_is_503_with_retry_after(service):
    client, headers, uuid, outage = service  # noqa: F811

    outage.cut()
    try:
        response = client.patch(f"/api/customers/{uuid}", json={"full_name": "J"}, headers=headers)
    finally:
        outage.restore()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {"error": {"status": 503, "message": UNAVAILABLE}}
    assert client.get(f"/api/customers/{uuid}", headers=headers).json["data"]["full_name"] == "J S"


def test_read_while_the_database_is_away_is_503_with_retry_after(service):
    client, headers, uuid, outage = service  # noqa: F811

    outage.cut()
    try:
        response = client.get(f"/api/customers/{uuid}", headers=headers)
    finally:
        outage.restore()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {"error": {"status": 503, "message": UNAVAILABLE}}


def test_service_answers_again_once_the_database_is_back(service):
    client, headers, uuid, outage = service  # noqa: F811
    outage.cut()
    assert client.get(f"/api/customers/{uuid}", headers=headers).status_code == 503

    outage.restore()
    response = client.patch(f"/api/customers/{uuid}", json={"full_name": "J"}, headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "J"
