"""Password reset: a successful reset voids the customer's other reset tokens
and the access and refresh tokens issued before it, and nobody else's."""

from __future__ import annotations

from tests.helpers import bearer
from tests.password_reset.conftest import (
    ACCESS_REVOKED,
    NEW_PASSWORD,
    REFRESH_REVOKED,
    assert_password_is,
    assert_success,
    assert_token_invalid,
    jwt_pair_issued_ten_seconds_ago,
    login,
    set_password,
    sha256_hex,
    token_by_log,
    token_rows,
)

# --- what a successful reset revokes ---------------------------------------------------


def test_reset_voids_every_other_outstanding_token_of_the_customer(
    app, client, runner, caplog, customer
):
    # Given two emails, two tokens
    first = token_by_log(client, runner, caplog)
    second = token_by_log(client, runner, caplog)
    assert len(token_rows(app)) == 2

    # When
    assert_success(set_password(client, first, NEW_PASSWORD))

    # Then
    assert_token_invalid(set_password(client, second, "third-password-3"))
    assert token_rows(app) == []
    assert_password_is(client, NEW_PASSWORD, refused="third-password-3")


def test_reset_leaves_the_tokens_of_other_customers_alone(app, client, auth, runner, caplog):
    # Given
    auth.create_customer()
    other = auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")
    mine = token_by_log(client, runner, caplog)
    theirs = token_by_log(client, runner, caplog, email="jane.doe@example.com")

    # When
    assert_success(set_password(client, mine, NEW_PASSWORD))

    # Then
    assert token_rows(app) == [(other["customer_id"], sha256_hex(theirs))]
    assert_success(set_password(client, theirs, "jane-new-pass-3"))


def test_access_token_issued_before_the_reset_is_refused(app, client, runner, caplog, customer):
    # Given
    access, _ = jwt_pair_issued_ten_seconds_ago(app, customer)
    assert client.get("/api/customers/me", headers=bearer(access)).status_code == 200
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    response = client.get("/api/customers/me", headers=bearer(access))
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": ACCESS_REVOKED}}


def test_refresh_token_issued_before_the_reset_is_refused(app, client, runner, caplog, customer):
    # Given
    _, refresh = jwt_pair_issued_ten_seconds_ago(app, customer)
    refreshed = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    assert refreshed.status_code == 200, refreshed.json
    token = token_by_log(client, runner, caplog)

    # When
    assert_success(set_password(client, token, NEW_PASSWORD))

    # Then
    response = client.post("/api/customer/token/refresh", json={"refreshToken": refresh})
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"status": 401, "message": REFRESH_REVOKED}}


def test_tokens_issued_after_the_reset_work(app, client, runner, caplog, customer):
    # Given
    assert_success(set_password(client, token_by_log(client, runner, caplog), NEW_PASSWORD))

    # When
    tokens = login(client, password=NEW_PASSWORD).json["data"]

    # Then
    me = client.get("/api/customers/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200, me.json
    assert me.json["data"]["uuid"] == customer["uuid"]
