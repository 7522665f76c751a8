"""Email addresses outside ASCII (docs/api.md, "Email addresses"): an
internationalised domain is accepted, stored in lower case and mailed in its
ASCII form; a part before the @ outside ASCII is refused at the door; letter
case is folded alike on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import db
from app.emails import NOT_ASCII
from tests.smtp import smtp_server  # noqa: F401 (a fixture)

PASSWORD = "customer-pass-1"
IDN_EMAIL = "user@bücher.example"


def sign_up(client, email: str):
    return client.post(
        "/api/customers", json={"email": email, "password": PASSWORD, "full_name": "Umlaut"}
    )


def customer_emails(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(sa.text("SELECT email FROM customer ORDER BY customer_id")))
        db.session.remove()
    return found


def assert_not_ascii(response) -> None:
    assert response.status_code == 400, response.json
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid email: {NOT_ASCII}",
            "errors": [{"field": "email", "message": NOT_ASCII}],
        }
    }


def test_sign_up_with_a_non_ascii_local_part_is_400_and_writes_nothing(app, client):
    response = sign_up(client, "Ärger@example.com")

    assert_not_ascii(response)
    assert customer_emails(app) == []


def test_admin_update_to_a_non_ascii_local_part_is_400(app, client, auth):
    customer = auth.create_customer()

    response = client.patch(
        f"/api/customers/{customer['uuid']}",
        json={"email": "jürgen@example.com"},
        headers=auth.admin_headers(),
    )

    assert_not_ascii(response)
    assert customer_emails(app) == ["john.smith@example.com"]


def test_reset_request_for_a_non_ascii_local_part_is_400(client, events):
    response = client.post("/api/customers/reset-password", json={"email": "Ärger@example.com"})

    assert_not_ascii(response)
    assert events() == []


def test_internationalised_domain_is_stored_in_lower_case(app, client):
    response = sign_up(client, "User@BÜCHER.example")

    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == "User@bücher.example"
    assert customer_emails(app) == ["User@bücher.example"]


def test_email_differing_only_in_the_case_of_a_non_ascii_letter_is_409(app, client):
    assert sign_up(client, IDN_EMAIL).status_code == 201

    response = sign_up(client, "USER@BÜCHER.EXAMPLE")

    assert response.status_code == 409, response.json
    assert customer_emails(app) == [IDN_EMAIL]


def test_login_with_another_case_of_an_internationalised_domain(client):
    assert sign_up(client, IDN_EMAIL).status_code == 201

    response = client.post(
        "/api/customer/tokens", json={"email": "USER@BÜCHER.EXAMPLE", "password": PASSWORD}
    )

    assert response.status_code == 200, response.json


def test_database_refuses_two_emails_differing_only_in_a_non_ascii_letters_case(app):
    # Written past the API, as another program sharing the database might.
    insert = sa.text(
        "INSERT INTO customer (email, password, full_name) VALUES (:email, 'x', 'Twin')"
    )
    with app.app_context():
        db.session.execute(insert, {"email": "ÜBER@example.com"})
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(insert, {"email": "über@example.com"})
            db.session.commit()
        db.session.rollback()
        db.session.remove()
    assert customer_emails(app) == ["ÜBER@example.com"]


def test_reset_email_to_an_internationalised_domain_goes_to_its_ascii_form(
    make_app,
    smtp_server,  # noqa: F811
):
    app = make_app(
        EVENTS_DELIVERY="inline", MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port
    )
    client = app.test_client()
    assert sign_up(client, IDN_EMAIL).status_code == 201

    response = client.post("/api/customers/reset-password", json={"email": IDN_EMAIL})

    assert response.status_code == 200, response.json
    # the sign-up's verification link, then the reset link
    assert [(m.subject, m.rcpt_tos) for m in smtp_server.messages] == [
        ("Confirm your email address", ["user@xn--bcher-kva.example"]),
        ("Reset your password", ["user@xn--bcher-kva.example"]),
    ]


def test_admin_user_with_a_non_ascii_local_part_is_refused(runner):
    result = runner.invoke(
        args=["user", "create", "--email", "Ärger@example.com", "--password", "admin-pass-12"]
    )

    assert result.exit_code == 1
    assert NOT_ASCII in result.output
