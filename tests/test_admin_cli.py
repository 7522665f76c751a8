"""Admin users from the command line (docs/operations.md, "Admin users"):
``flask user list|disable|enable|set-password|revoke|unlock``, through the CLI
runner; a disabled admin's tokens stop working at once; unknown emails fail
with one line and exit status 1."""

from __future__ import annotations

import time

import jwt
import pytest
import sqlalchemy as sa

from app.auth.models import AdminUser
from app.db import db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import bearer

NEW_PASSWORD = "a-new-admin-pass-2"
UNKNOWN = "nobody@example.com"


def login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    return client.post("/api/user/tokens", json={"email": email, "password": password})


def admin_row(app, email=ADMIN_EMAIL) -> tuple:
    """(status, password hash, token_version) of an admin."""
    with app.app_context():
        row = db.session.execute(
            sa.select(AdminUser.status, AdminUser.password, AdminUser.token_version).where(
                AdminUser.email == email
            )
        ).one()
        db.session.remove()
    return tuple(row)


def evershop_admin_token(admin: dict, iat: int) -> str:
    """An admin access token as EverShop signs it: no tokenVersion, no sid."""
    identity = {
        name: admin[name] for name in ("admin_user_id", "uuid", "email", "full_name", "status")
    }
    claims = {
        "user": identity,
        "tokenType": "admin",
        "tokenKind": "access",
        "iss": "evershop",
        "aud": "admin",
        "iat": iat,
        "exp": iat + 900,
    }
    return jwt.encode(claims, "test-admin-secret-0123456789abcdef", algorithm="HS256")


def works(client, token: str) -> bool:
    response = client.get("/api/customers", headers=bearer(token))
    assert response.status_code in (200, 401), response.json
    return response.status_code == 200


@pytest.fixture
def admin(auth) -> dict:
    auth.create_admin()
    return auth.admin_tokens()


# --- list ----------------------------------------------------------------------------------


def test_user_list_shows_email_status_and_creation(app, auth, runner):
    boss = auth.create_admin()
    other = auth.create_admin(email="a.much.longer.address@example.com", password="other-pass-12")
    runner.invoke(args=["user", "disable", other["email"]])

    result = runner.invoke(args=["user", "list"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"admin@example.com                  active    {boss['created_at']}",
        f"a.much.longer.address@example.com  disabled  {other['created_at']}",
    ]


def test_user_list_shows_no_password_hash(app, admin, runner):
    (_, password_hash, _) = admin_row(app)

    result = runner.invoke(args=["user", "list"])

    assert password_hash not in result.output
    assert "$2" not in result.output


def test_user_list_without_admins_says_so(runner):
    result = runner.invoke(args=["user", "list"])

    assert result.exit_code == 0
    assert result.output == "No admin users.\n"


# --- disable and enable -------------------------------------------------------------------


def test_user_disable_refuses_the_admins_tokens_at_once(app, client, admin, runner):
    assert works(client, admin["accessToken"])

    result = runner.invoke(args=["user", "disable", ADMIN_EMAIL])

    assert result.exit_code == 0, result.output
    assert result.output == f"Disabled admin user {ADMIN_EMAIL}; its tokens are revoked.\n"
    assert admin_row(app)[0] is False
    assert not works(client, admin["accessToken"])
    response = client.post("/api/user/token/refresh", json={"refreshToken": admin["refreshToken"]})
    assert response.status_code == 401


def test_a_disabled_admin_cannot_log_in(client, admin, runner):
    runner.invoke(args=["user", "disable", ADMIN_EMAIL])

    response = login(client)

    assert response.status_code == 401
    assert response.json == {"error": {"status": 401, "message": "Invalid email or password"}}


def test_user_enable_lets_the_admin_log_in_again(app, client, admin, runner):
    runner.invoke(args=["user", "disable", ADMIN_EMAIL])

    result = runner.invoke(args=["user", "enable", ADMIN_EMAIL])

    assert result.exit_code == 0, result.output
    assert result.output == f"Enabled admin user {ADMIN_EMAIL}.\n"
    assert admin_row(app)[0] is True
    assert works(client, login(client).json["data"]["accessToken"])


def test_user_enable_revives_no_token_revoked_by_disable(client, admin, runner):
    runner.invoke(args=["user", "disable", ADMIN_EMAIL])
    runner.invoke(args=["user", "enable", ADMIN_EMAIL])

    assert not works(client, admin["accessToken"])
    response = client.post("/api/user/token/refresh", json={"refreshToken": admin["refreshToken"]})
    assert response.status_code == 401


def test_user_enable_of_an_active_admin_changes_nothing(app, client, admin, runner):
    before = admin_row(app)

    result = runner.invoke(args=["user", "enable", ADMIN_EMAIL])

    assert result.exit_code == 0
    assert admin_row(app) == before
    assert works(client, admin["accessToken"])


def test_user_disable_matches_the_email_in_any_letter_case(app, admin, runner):
    result = runner.invoke(args=["user", "disable", "  ADMIN@Example.COM "])

    assert result.exit_code == 0, result.output
    assert admin_row(app)[0] is False


# --- set-password -------------------------------------------------------------------------


def test_user_set_password_prompts_hidden_twice(app, client, admin, runner):
    result = runner.invoke(
        args=["user", "set-password", ADMIN_EMAIL], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert result.output == (
        "New password: \nRepeat for confirmation: \n"
        f"Changed the password of admin user {ADMIN_EMAIL}; its tokens are revoked.\n"
    )
    assert NEW_PASSWORD not in result.output
    assert login(client, password=NEW_PASSWORD).status_code == 200
    assert login(client).status_code == 401


def test_user_set_password_revokes_the_admins_tokens(client, admin, runner):
    result = runner.invoke(args=["user", "set-password", ADMIN_EMAIL, "--password", NEW_PASSWORD])

    assert result.exit_code == 0, result.output
    assert not works(client, admin["accessToken"])
    response = client.post("/api/user/token/refresh", json={"refreshToken": admin["refreshToken"]})
    assert response.status_code == 401


def test_user_set_password_with_a_mismatched_confirmation_changes_nothing(app, admin, runner):
    before = admin_row(app)

    result = runner.invoke(
        args=["user", "set-password", ADMIN_EMAIL],
        input=f"{NEW_PASSWORD}\nsomething-else-9\n{NEW_PASSWORD}\nsomething-else-9\n",
    )

    assert result.exit_code != 0
    assert "Error: The two entered values do not match." in result.output
    assert admin_row(app) == before


def test_user_set_password_refuses_a_too_short_password(app, client, admin, runner):
    before = admin_row(app)

    result = runner.invoke(args=["user", "set-password", ADMIN_EMAIL, "--password", "short"])

    assert result.exit_code == 1
    assert result.output == "Error: Invalid password: Must be at least 8 characters long.\n"
    assert admin_row(app) == before
    assert works(client, admin["accessToken"])


def test_user_set_password_of_an_unknown_email_fails_before_prompting(app, admin, runner):
    result = runner.invoke(args=["user", "set-password", UNKNOWN], input="x\nx\n")

    assert result.exit_code == 1
    assert result.output == f"Error: No admin user has the email {UNKNOWN}.\n"


# --- revoke -------------------------------------------------------------------------------


def test_user_revoke_keeps_the_admin_able_to_log_in(app, client, admin, runner):
    status, password_hash, version = admin_row(app)

    result = runner.invoke(args=["user", "revoke", ADMIN_EMAIL])

    assert result.exit_code == 0, result.output
    assert not works(client, admin["accessToken"])
    assert admin_row(app) == (status, password_hash, version + 1)
    assert works(client, login(client).json["data"]["accessToken"])


@pytest.mark.parametrize("command", ["revoke", "disable", "set-password"])
def test_user_command_refuses_evershop_tokens_issued_before_it(auth, client, runner, command):
    admin = auth.create_admin()
    token = evershop_admin_token(admin, int(time.time()) - 5)
    assert works(client, token)

    args = ["user", command, ADMIN_EMAIL]
    result = runner.invoke(
        args=args + (["--password", NEW_PASSWORD] if command == "set-password" else [])
    )

    assert result.exit_code == 0, result.output
    assert not works(client, token)


# --- unknown emails -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["disable", "enable", "revoke", "unlock"])
def test_user_command_with_an_unknown_email_fails_with_one_line(app, admin, runner, command):
    before = admin_row(app)

    result = runner.invoke(args=["user", command, UNKNOWN])

    assert result.exit_code == 1
    assert result.output == f"Error: No admin user has the email {UNKNOWN}.\n"
    assert admin_row(app) == before


def test_user_command_without_an_email_is_a_usage_error(runner):
    result = runner.invoke(args=["user", "disable"])

    assert result.exit_code == 2
    assert "Missing argument 'EMAIL'" in result.output
