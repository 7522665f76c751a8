"""Sessions (docs/api.md, "Sessions"): the tokens of one login share a
session id; a customer logs out of its token's session or of all of them; an
admin logs a customer out; a revoked session's tokens, access tokens
included, are refused from the next request on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pluggy
import pytest
import sqlalchemy as sa

from app.auth import tokens
from app.auth.sessions import RevokedSession
from app.db import db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import bearer, read_claims, start_of_a_second

hookimpl = pluggy.HookimplMarker("evershop")

REVOKE = "/api/customer/tokens/revoke"
REFRESH = "/api/customer/token/refresh"
ME = "/api/customers/me"
CUSTOMER_SECRET = "test-customer-secret-0123456789abcd"
CUSTOMER_REFRESH_SECRET = "test-customer-refresh-secret-012345"
REVOKED = {
    "error": {
        "status": 401,
        "message": "The token's account no longer exists, is disabled, or its token was revoked.",
    }
}
REFRESH_REFUSED = {
    "error": {
        "status": 401,
        "message": "The token's account no longer exists, is disabled, or was revoked.",
    }
}
NO_SESSION = {
    "error": {
        "status": 400,
        "message": "This token belongs to no session (it was signed before sessions existed,"
        " or by EverShop): revoke every session with ?all=true.",
    }
}


def refresh(client, refresh_token: str):
    return client.post(REFRESH, json={"refreshToken": refresh_token})


def revoked_rows(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(sa.select(RevokedSession.sid, RevokedSession.token_type)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def evershop_token(customer: dict, kind: str = "access", iat: int | None = None) -> str:
    """A customer token as EverShop signs it: no tokenVersion, no sid."""
    now = int(time.time()) if iat is None else iat
    identity = {
        name: customer[name]
        for name in ("customer_id", "uuid", "email", "full_name", "status", "group_id")
    }
    return jwt.encode(
        {
            "customer": identity,
            "tokenType": "customer",
            "tokenKind": kind,
            "iss": "evershop",
            "aud": "customer",
            "iat": now,
            "exp": now + 1800,
        },
        CUSTOMER_SECRET if kind == "access" else CUSTOMER_REFRESH_SECRET,
        algorithm="HS256",
    )


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


def shown(customer: dict) -> dict:
    """The customer as events show it (no links)."""
    return {name: value for name, value in customer.items() if name != "links"}


def statements_of(app, request) -> list[str]:
    """The SQL statements ``request()`` sends to the database."""
    sent = []

    def record(conn, cursor, statement, *_):
        sent.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.json
    return sent


# --- the session id ------------------------------------------------------------------------


def test_the_tokens_of_one_login_share_a_session_id(auth, customer):
    pair = auth.customer_tokens()

    access, refresh_claims = read_claims(pair["accessToken"]), read_claims(pair["refreshToken"])

    assert access["sid"] == refresh_claims["sid"]
    assert len(access["sid"]) == 32 and int(access["sid"], 16) >= 0


def test_each_login_is_a_session_of_its_own(auth, customer):
    first, second = auth.customer_tokens(), auth.customer_tokens()

    assert read_claims(first["accessToken"])["sid"] != read_claims(second["accessToken"])["sid"]


def test_an_access_token_minted_by_refresh_stays_in_the_session(client, auth, customer):
    pair = auth.customer_tokens()

    minted = refresh(client, pair["refreshToken"]).json["data"]["accessToken"]

    assert read_claims(minted)["sid"] == read_claims(pair["refreshToken"])["sid"]


def test_admin_tokens_carry_a_session_id_kept_by_refresh(client, auth):
    auth.create_admin()
    pair = auth.admin_tokens()

    minted = client.post("/api/user/token/refresh", json={"refreshToken": pair["refreshToken"]})

    sid = read_claims(pair["accessToken"])["sid"]
    assert read_claims(pair["refreshToken"])["sid"] == sid
    assert read_claims(minted.json["data"]["accessToken"])["sid"] == sid


# --- a customer logs out of its session ----------------------------------------------------


@pytest.mark.parametrize("kind", ["customer", "admin"])
def test_the_session_is_checked_in_the_same_statement_that_reads_the_account(
    app, client, auth, customer, kind
):
    if kind == "customer":
        headers = auth.customer_headers()
        table = "FROM customer"
    else:
        headers = auth.admin_headers()
        table = "FROM admin_user"
    client.get("/api/customers/me" if kind == "customer" else "/api/customers", headers=headers)

    sent = statements_of(
        app,
        lambda: client.get(
            "/api/customers/me" if kind == "customer" else "/api/customers", headers=headers
        ),
    )

    checks = [s for s in sent if "revoked_session" in s]
    assert len(checks) == 1, sent
    assert table in checks[0]


def test_revoke_logs_the_session_out(app, client, auth, customer):
    pair = auth.customer_tokens()

    response = client.post(REVOKE, headers=bearer(pair["accessToken"]))

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"revoked": "session"}}
    assert revoked_rows(app) == [(read_claims(pair["accessToken"])["sid"], "customer")]


def test_a_revoked_access_token_is_refused_at_once(client, auth, customer):
    pair = auth.customer_tokens()
    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    response = client.get(ME, headers=bearer(pair["accessToken"]))

    assert response.status_code == 401
    assert response.json == REVOKED
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_refresh_token_of_a_revoked_session_is_refused(client, auth, customer):
    pair = auth.customer_tokens()
    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    response = refresh(client, pair["refreshToken"])

    assert response.status_code == 401
    assert response.json == REFRESH_REFUSED


def test_access_tokens_minted_in_a_revoked_session_are_refused(client, auth, customer):
    pair = auth.customer_tokens()
    minted = refresh(client, pair["refreshToken"]).json["data"]["accessToken"]

    client.post(REVOKE, headers=bearer(minted))

    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 401
    assert client.get(ME, headers=bearer(minted)).status_code == 401


def test_revoking_one_session_leaves_the_others(client, auth, customer):
    phone, laptop = auth.customer_tokens(), auth.customer_tokens()

    client.post(REVOKE, headers=bearer(phone["accessToken"]))

    assert client.get(ME, headers=bearer(laptop["accessToken"])).status_code == 200
    assert refresh(client, laptop["refreshToken"]).status_code == 200


def test_a_new_login_after_revoking_works(client, auth, customer):
    client.post(REVOKE, headers=bearer(auth.customer_tokens()["accessToken"]))

    pair = auth.customer_tokens()

    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 200


def test_revoking_with_another_customers_token_revokes_only_its_own(client, auth, customer):
    auth.create_customer(email="eve@example.com")
    john = auth.customer_tokens()
    eve = auth.customer_tokens(email="eve@example.com")

    response = client.post(REVOKE, headers=bearer(eve["accessToken"]))

    assert response.status_code == 200
    assert client.get(ME, headers=bearer(john["accessToken"])).status_code == 200
    assert refresh(client, john["refreshToken"]).status_code == 200
    assert client.get(ME, headers=bearer(eve["accessToken"])).status_code == 401


def test_revoke_with_a_revoked_token_is_401(app, client, auth, customer):
    pair = auth.customer_tokens()
    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    response = client.post(REVOKE, headers=bearer(pair["accessToken"]))

    assert response.status_code == 401
    assert len(revoked_rows(app)) == 1


def test_revoke_without_a_token_is_401(app, client, events):
    response = client.post(REVOKE)

    assert response.status_code == 401
    assert revoked_rows(app) == []
    assert events() == []


def test_revoke_with_an_admin_token_is_403(app, client, auth):
    response = client.post(REVOKE, headers=auth.admin_headers())

    assert response.status_code == 403
    assert revoked_rows(app) == []


def test_revoke_with_a_refresh_token_is_401(app, client, auth, customer):
    pair = auth.customer_tokens()

    response = client.post(REVOKE, headers=bearer(pair["refreshToken"]))

    assert response.status_code == 401
    assert revoked_rows(app) == []


def test_revoke_with_an_expired_token_is_401(app, client, auth, customer):
    expired = evershop_token(customer, iat=int(time.time()) - 3600)

    response = client.post(REVOKE, headers=bearer(expired))

    assert response.status_code == 401
    assert revoked_rows(app) == []


@pytest.mark.parametrize("query", ["all=yes", "all=", "every=true"])
def test_revoke_with_a_bad_parameter_is_400(app, client, auth, customer, query):
    pair = auth.customer_tokens()

    response = client.post(f"{REVOKE}?{query}", headers=bearer(pair["accessToken"]))

    assert response.status_code == 400
    assert revoked_rows(app) == []
    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 200


def test_an_evershop_token_has_no_session_to_revoke(app, client, customer, events):
    before = events()

    response = client.post(REVOKE, headers=bearer(evershop_token(customer)))

    assert response.status_code == 400
    assert response.json == NO_SESSION
    assert revoked_rows(app) == []
    assert events() == before


def test_revoked_sessions_are_kept_until_their_last_token_expires(app, client, auth, customer):
    pair = auth.customer_tokens()
    before = datetime.now(UTC).replace(microsecond=0)

    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    with app.app_context():
        expires_at = db.session.scalar(sa.select(RevokedSession.expires_at))
        db.session.remove()
    # refresh lifetime + access lifetime, from the moment of the revocation
    lifetime = timedelta(seconds=108000 + 1800)
    assert (
        before + lifetime
        <= expires_at.replace(tzinfo=UTC)
        <= before + lifetime + timedelta(seconds=2)
    )


def test_revoked_sessions_whose_tokens_expired_are_purged(app, client, auth, customer):
    with app.app_context():
        db.session.add(
            RevokedSession(
                sid="0" * 32, token_type="customer", expires_at=datetime.now(UTC) - timedelta(1)
            )
        )
        db.session.commit()
        db.session.remove()
    pair = auth.customer_tokens()

    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    assert revoked_rows(app) == [(read_claims(pair["accessToken"])["sid"], "customer")]


def test_revoking_a_session_twice_keeps_one_record(app, auth, customer):
    token = auth.customer_tokens()["accessToken"]

    with app.app_context():
        verified = tokens.verify(token, "access")
        for _ in range(2):
            assert tokens.revoke_session(verified) is True
            db.session.commit()
        db.session.remove()

    assert revoked_rows(app) == [(read_claims(token)["sid"], "customer")]


def test_a_token_whose_session_id_is_not_text_is_refused(app, client, customer):
    now = int(time.time())
    token = jwt.encode(
        {
            **read_claims(evershop_token(customer)),
            "sid": 12345,
            "iat": now,
            "exp": now + 60,
        },
        CUSTOMER_SECRET,
        algorithm="HS256",
    )

    response = client.get(ME, headers=bearer(token))

    assert response.status_code == 401
    assert response.json == REVOKED


# --- all sessions --------------------------------------------------------------------------


def test_revoke_all_logs_every_session_out(app, client, auth, customer):
    phone, laptop = auth.customer_tokens(), auth.customer_tokens()

    response = client.post(f"{REVOKE}?all=true", headers=bearer(phone["accessToken"]))

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"revoked": "all"}}
    for pair in (phone, laptop):
        assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 401
        assert refresh(client, pair["refreshToken"]).status_code == 401
    assert revoked_rows(app) == []


def test_revoke_all_refuses_evershop_tokens_issued_before(client, auth, customer):
    older = evershop_token(customer, iat=int(time.time()) - 5)
    older_refresh = evershop_token(customer, "refresh", iat=int(time.time()) - 5)
    assert client.get(ME, headers=bearer(older)).status_code == 200

    response = client.post(f"{REVOKE}?all=1", headers=bearer(older))

    assert response.status_code == 200, response.json
    assert client.get(ME, headers=bearer(older)).status_code == 401
    assert refresh(client, older_refresh).status_code == 401


def test_revoke_all_accepts_evershop_tokens_issued_in_a_later_second(client, auth, customer):
    start_of_a_second()
    client.post(f"{REVOKE}?all=true", headers=bearer(auth.customer_tokens()["accessToken"]))
    time.sleep(1)

    later = evershop_token(customer)

    assert client.get(ME, headers=bearer(later)).status_code == 200


def test_revoke_all_refuses_evershop_tokens_of_the_same_second(client, auth, customer):
    start_of_a_second()
    token = auth.customer_tokens()["accessToken"]
    same_second = evershop_token(customer)

    client.post(f"{REVOKE}?all=true", headers=bearer(token))

    assert client.get(ME, headers=bearer(same_second)).status_code == 401


def test_a_login_after_revoke_all_works_in_the_same_second(client, auth, customer):
    start_of_a_second()
    client.post(f"{REVOKE}?all=true", headers=bearer(auth.customer_tokens()["accessToken"]))

    pair = auth.customer_tokens()

    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 200
    assert refresh(client, pair["refreshToken"]).status_code == 200


def test_revoke_all_keeps_the_customers_fields(client, auth, customer):
    pair = auth.customer_tokens()
    read = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())

    client.post(f"{REVOKE}?all=true", headers=bearer(pair["accessToken"]))

    after = client.get(f"/api/customers/{customer['uuid']}", headers=auth.admin_headers())
    assert after.json == read.json


# --- an admin logs a customer out ---------------------------------------------------------


def test_admin_revokes_every_session_of_a_customer(client, auth, customer):
    phone, laptop = auth.customer_tokens(), auth.customer_tokens()

    response = client.post(
        f"/api/customers/{customer['uuid']}/sessions/revoke", headers=auth.admin_headers()
    )

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"revoked": "all"}}
    for pair in (phone, laptop):
        assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 401
        assert refresh(client, pair["refreshToken"]).status_code == 401


def test_admin_revoking_one_customer_leaves_the_others(client, auth, customer):
    auth.create_customer(email="eve@example.com")
    eve = auth.customer_tokens(email="eve@example.com")

    client.post(f"/api/customers/{customer['uuid']}/sessions/revoke", headers=auth.admin_headers())

    assert client.get(ME, headers=bearer(eve["accessToken"])).status_code == 200


def test_a_customer_cannot_revoke_another_customers_sessions(client, auth, customer, events):
    auth.create_customer(email="eve@example.com")
    john = auth.customer_tokens()
    eve = auth.customer_tokens(email="eve@example.com")
    before = events()

    response = client.post(
        f"/api/customers/{customer['uuid']}/sessions/revoke", headers=bearer(eve["accessToken"])
    )

    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "This token does not grant access to this resource."}
    }
    assert client.get(ME, headers=bearer(john["accessToken"])).status_code == 200
    assert events() == before


def test_a_customer_cannot_revoke_its_own_sessions_through_the_admin_route(client, auth, customer):
    pair = auth.customer_tokens()

    response = client.post(
        f"/api/customers/{customer['uuid']}/sessions/revoke", headers=bearer(pair["accessToken"])
    )

    assert response.status_code == 403
    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 200


def test_admin_revoke_of_an_unknown_customer_is_404(client, auth, events):
    response = client.post(
        "/api/customers/00000000-0000-4000-8000-000000000000/sessions/revoke",
        headers=auth.admin_headers(),
    )

    assert response.status_code == 404
    assert response.json == {"error": {"status": 404, "message": "Customer not found."}}
    assert events() == []


def test_admin_revoke_without_a_token_is_401(client, auth, customer):
    pair = auth.customer_tokens()

    response = client.post(f"/api/customers/{customer['uuid']}/sessions/revoke")

    assert response.status_code == 401
    assert client.get(ME, headers=bearer(pair["accessToken"])).status_code == 200


# --- events and hooks ----------------------------------------------------------------------


def test_revoking_a_session_emits_customer_sessions_revoked(client, auth, customer, events):
    pair = auth.customer_tokens()
    before = len(events())

    client.post(REVOKE, headers=bearer(pair["accessToken"]))

    assert events()[before:] == [
        (
            "customer_sessions_revoked",
            {"customer": shown(customer), "all_sessions": False, "revoked_by": "customer"},
        )
    ]


def test_an_admin_revoking_all_sessions_emits_customer_sessions_revoked(
    client, auth, customer, events
):
    before = len(events())

    client.post(f"/api/customers/{customer['uuid']}/sessions/revoke", headers=auth.admin_headers())

    assert events()[before:] == [
        (
            "customer_sessions_revoked",
            {"customer": shown(customer), "all_sessions": True, "revoked_by": "admin"},
        )
    ]


def test_customer_sessions_after_revoke_receives_the_customer_and_the_scope(
    client, auth, customer, register_plugin
):
    calls = []

    class Recorder:
        @hookimpl
        def customer_sessions_after_revoke(self, customer, all_sessions, context):
            calls.append((customer["uuid"], all_sessions, context.actor_type))

    register_plugin(Recorder())
    client.post(REVOKE, headers=bearer(auth.customer_tokens()["accessToken"]))
    client.post(f"{REVOKE}?all=true", headers=bearer(auth.customer_tokens()["accessToken"]))
    client.post(f"/api/customers/{customer['uuid']}/sessions/revoke", headers=auth.admin_headers())

    assert calls == [
        (customer["uuid"], False, "customer"),
        (customer["uuid"], True, "customer"),
        (customer["uuid"], True, "admin"),
    ]


# --- flask user revoke ----------------------------------------------------------------------


def test_flask_user_revoke_refuses_every_token_of_the_admin(client, auth, runner):
    auth.create_admin()
    pair = auth.admin_tokens()

    result = runner.invoke(args=["user", "revoke", ADMIN_EMAIL.upper()])

    assert result.exit_code == 0, result.output
    assert result.output == f"Revoked every token of admin user {ADMIN_EMAIL}.\n"
    assert client.get("/api/customers", headers=bearer(pair["accessToken"])).status_code == 401
    response = client.post("/api/user/token/refresh", json={"refreshToken": pair["refreshToken"]})
    assert response.status_code == 401
    fresh = auth.admin_tokens(ADMIN_EMAIL, ADMIN_PASSWORD)["accessToken"]
    assert client.get("/api/customers", headers=bearer(fresh)).status_code == 200
