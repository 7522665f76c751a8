"""Authentication: ``flask user create`` makes an admin who can log in, and
refuses a taken email or a too short password."""

from __future__ import annotations

from tests.auth.conftest import (
    INVALID_LOGIN,
    admin_login,
    admin_rows,
    assert_credentials_401,
)
from tests.helpers import read_claims


def test_cli_creates_an_admin_who_can_log_in(app, client, runner):
    # When
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--password",
            "boss-password-1",
            "--full-name",
            "The Boss",
        ]
    )

    # Then
    assert result.exit_code == 0, result.output
    assert "Created admin user boss@example.com" in result.output
    response = admin_login(client, email="boss@example.com", password="boss-password-1")
    assert response.status_code == 200
    identity = read_claims(response.json["data"]["accessToken"])["user"]
    assert (identity["email"], identity["full_name"], identity["status"]) == (
        "boss@example.com",
        "The Boss",
        1,
    )


def test_cli_refuses_an_email_taken_in_another_letter_case(app, runner):
    # Given
    first = runner.invoke(
        args=["user", "create", "--email", "boss@example.com", "--password", "boss-password-1"]
    )
    assert first.exit_code == 0, first.output

    # When
    result = runner.invoke(
        args=["user", "create", "--email", "BOSS@Example.com", "--password", "other-password-2"]
    )

    # Then
    assert result.exit_code != 0
    assert "Error: Email is already used" in result.output
    assert [email for email, _ in admin_rows(app)] == ["boss@example.com"]


def test_cli_refuses_a_too_short_password(app, client, runner):
    # When
    result = runner.invoke(
        args=["user", "create", "--email", "boss@example.com", "--password", "short"]
    )

    # Then
    assert result.exit_code != 0
    assert "Error: Invalid password: Must be at least 8 characters long." in result.output
    assert admin_rows(app) == []
    assert_credentials_401(admin_login(client, "boss@example.com", "short"), INVALID_LOGIN)
